"""Check-in fixtures (shared with the review tests through `checkins.support`)."""

from checkins.support import (  # noqa: F401
    _turn_challenges_only, case, device, enrol, face_jpeg, lfw_images, nuaa, open_prompt,
)
