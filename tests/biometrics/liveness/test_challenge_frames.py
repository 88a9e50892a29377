"""Every challenge frame is matched 1:1 against the enrolment (real LFW faces on 640x480 frames)."""

from __future__ import annotations

from custodes.biometrics.liveness import Challenge, ChallengeKind, assess_liveness
from custodes.biometrics.liveness.frames import FRAME_TARGET_FMR, match_frames

ENROL = ("Bill_Gates/Bill_Gates_0011.jpg", "Bill_Gates/Bill_Gates_0015.jpg")
PHOTO = "Bill_Gates/Bill_Gates_0003.jpg"
TURNED = "Bill_Gates/Bill_Gates_0004.jpg"  # the same man turned to his right
SOMEONE_ELSE = "Bill_Simon/Bill_Simon_0004.jpg"


def _frames(engine, lfw_frame, second: str):
    template = engine.enrol([lfw_frame(p) for p in ENROL] + [lfw_frame(ENROL[0])[:, ::-1].copy()])
    frames = [lfw_frame(PHOTO), lfw_frame(second)]
    first = engine.detect(frames[0])[0]
    checked = assess_liveness(frames, Challenge(ChallengeKind.TURN_RIGHT, "t"), first_face=first)
    return template, frames, checked


def test_the_same_persons_turned_head_matches(engine, lfw_frame):
    template, frames, checked = _frames(engine, lfw_frame, TURNED)
    assert checked.challenge_ok
    result = match_frames(engine, template, frames, checked.faces)
    assert result.ok and result.reasons == ()
    assert len(result.scores) == 1 and result.scores[0] >= result.threshold
    assert result.threshold == engine.calibration.threshold(FRAME_TARGET_FMR)


def test_someone_elses_photo_as_the_frame_is_refused(engine, lfw_frame):
    template, frames, checked = _frames(engine, lfw_frame, SOMEONE_ELSE)
    result = match_frames(engine, template, frames, checked.faces)
    assert not result.ok
    assert result.scores[0] < result.threshold
    assert "challenge frame 1 does not show the enrolled person" in result.reasons[0]


def test_a_frame_without_a_face_is_left_to_the_challenge(engine, lfw_frame):
    template, frames, checked = _frames(engine, lfw_frame, TURNED)
    result = match_frames(engine, template, frames, (checked.faces[0], None))
    assert result.ok and result.scores == (None,)
