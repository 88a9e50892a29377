"""Review tests reuse the check-in case, device and real faces."""

import sys
from pathlib import Path

# The shared fixtures live in tests/checkins/support.py, imported as `checkins.support` from both
# test folders; put tests/ on the path explicitly rather than rely on the import mode.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkins.support import (  # noqa: F401
    _checkin_test_defaults,
    case,
    device,
    enrol,
    face_jpeg,
    lfw_images,
    nuaa,
    open_prompt,
)
