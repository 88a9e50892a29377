"""The combined decision: real NUAA frames for the texture, synthetic landmarks for the movement."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.biometrics.dlib_model import DlibModels
from custodes.biometrics.faces import DetectedFace
from custodes.biometrics.image_input import load_rgb
from custodes.biometrics.liveness import (
    Challenge,
    ChallengeKind,
    assess_liveness,
    load_pad_model,
)

LIVE = "ClientRaw/0001/0001_00_00_01_0.jpg"
PRINT = "ImposterRaw/0001/0001_00_00_01_0.jpg"


@pytest.fixture(scope="module")
def frames(nuaa):
    models = DlibModels.load()
    out = {}
    for name, path in (("live", LIVE), ("print", PRINT)):
        rgb = load_rgb(nuaa / path)
        out[name] = (rgb, models.detect(rgb)[0])
    return out


def moving(frame, head, yaw=0.0, pitch=0.0, steps=4):
    """The same photo with a landmark track of a head moving to (yaw, pitch)."""
    rgb, face = frame
    faces = [DetectedFace(face.box, head(yaw * i / steps, pitch * i / steps)) for i in range(steps + 1)]
    return [rgb] * len(faces), faces


def test_live_face_doing_the_challenge_passes(frames, head):
    images, faces = moving(frames["live"], head, yaw=28)
    result = assess_liveness(images, Challenge(ChallengeKind.TURN_LEFT, "n"), faces)
    assert result.passed, result.reasons
    assert result.challenge_ok is True
    assert result.passive_score > result.passive_threshold
    assert result.model_version == load_pad_model().version
    # Turned frames are not texture-scored: the model knows frontal faces.
    assert result.frame_scores[0] is not None and result.frame_scores[-1] is None
    assert result.as_dict()["passed"] is True


def test_live_face_that_does_not_move_fails_on_the_challenge_only(frames, head):
    images, faces = moving(frames["live"], head)
    result = assess_liveness(images, Challenge(ChallengeKind.LOOK_UP, "n"), faces)
    assert not result.passed
    assert result.challenge_ok is False
    assert result.passive_score > result.passive_threshold
    assert result.reasons == ("no head movement visible in the frames",)


def test_printed_photo_fails_even_when_the_movement_is_right(frames, head):
    # A turn: its landmarks are synthetic here, so a look up/down would also fail on depth.
    images, faces = moving(frames["print"], head, yaw=28)
    result = assess_liveness(images, Challenge(ChallengeKind.TURN_LEFT, "n"), faces)
    assert not result.passed
    assert result.challenge_ok is True
    assert result.passive_score < result.passive_threshold
    assert any("looks like a photo or screen" in r for r in result.reasons)


def test_printed_photo_is_caught_with_the_real_detector(frames):
    rgb, _ = frames["print"]
    result = assess_liveness([rgb], None)  # detection inside, passive check only
    assert not result.passed and result.challenge_ok is None
    live = assess_liveness([frames["live"][0]], None)
    assert live.passed, live.reasons


def test_frames_without_a_face_or_with_two_are_refused(frames, head):
    rgb, face = frames["live"]
    blank = np.zeros_like(rgb)
    # A frame where the face was lost (a turned head can defeat a frontal detector) is noted but
    # decides nothing by itself; two faces in any frame fail the check.
    result = assess_liveness([rgb, blank], None, [[face], []])
    assert result.passed and result.notes == ("no face in frame 1",) and result.reasons == ()
    assert not assess_liveness([blank], None, [[]]).passed
    two = assess_liveness([rgb, rgb], None, [[face], [face, face]])
    assert not two.passed and "2 faces in frame 1" in two.reasons
    assert assess_liveness([], None).reasons == ("no frames were sent",)
    with pytest.raises(ValueError):
        assess_liveness([rgb, rgb], None, [[face]])
