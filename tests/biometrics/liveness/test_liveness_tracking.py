"""Tracking the face through challenge frames agrees with a full search, on real NUAA frames."""

from __future__ import annotations

import numpy as np

from custodes.biometrics.dlib_model import DlibModels
from custodes.biometrics.faces import DetectedFace, FaceBox
from custodes.biometrics.image_input import load_rgb
from custodes.biometrics.liveness.tracking import find_near, track_faces


def sequence(nuaa, prefix="ClientRaw/0004/0004_01_00_01", n=5):
    files = sorted((nuaa / prefix).parent.glob(f"{(nuaa / prefix).name}_*.jpg"),
                   key=lambda p: int(p.stem.rpartition("_")[2]))
    return [load_rgb(p) for p in files[:n]]


def test_tracked_faces_match_a_full_search(nuaa):
    frames = sequence(nuaa)
    models = DlibModels.load()
    tracked = track_faces(frames)
    assert all(len(found) == 1 for found in tracked)
    for rgb, found in zip(frames, tracked, strict=True):
        full = models.detect(rgb)[0]
        # HOG at a reduced scale lands within a few pixels of the full search; the landmarks follow
        # the box, so they move a little too (the same for every frame, which is what matters).
        corners = np.subtract(
            [found[0].box.left, found[0].box.top, found[0].box.right, found[0].box.bottom],
            [full.box.left, full.box.top, full.box.right, full.box.bottom],
        )
        assert np.abs(corners).max() <= 0.15 * full.box.width
        drift = np.abs(np.subtract(found[0].landmarks.points, full.landmarks.points)).max()
        assert drift <= 0.15 * full.landmarks.inter_eye_distance
        assert abs(found[0].pose.yaw - full.pose.yaw) < 0.1


def test_a_face_far_from_the_last_one_is_found_by_a_full_search(nuaa):
    rgb = sequence(nuaa, n=1)[0]
    wrong = DetectedFace(FaceBox(0, 0, 60, 60), DlibModels.load().detect(rgb)[0].landmarks)
    assert find_near(rgb, wrong.box) == []
    found = track_faces([rgb, rgb], first=wrong)
    assert all(len(f) == 1 and f[0].box.width > 100 for f in found)


def test_a_still_face_tracked_through_real_frames_does_not_pass_a_challenge(nuaa):
    from custodes.biometrics.liveness.challenge import ChallengeKind, judge_challenge

    tracked = track_faces(sequence(nuaa, "ClientRaw/0001/0001_00_00_01", n=6))
    marks = [f[0].landmarks for f in tracked]
    assert not any(judge_challenge(kind, marks).ok for kind in ChallengeKind)


def test_real_head_turns_from_lfw_pass_only_the_turn_they_show():
    # Two photos of the same person, frontal then head turned to their right (LFW, real faces).
    from custodes.biometrics.image_input import pad_to
    from custodes.biometrics.liveness.challenge import ChallengeKind, judge_challenge
    from custodes.config import data_root

    folder = data_root() / "faces" / "lfw-view1" / "images"
    assert folder.is_dir(), f"LFW View 1 missing at {folder}"
    for frontal, turned in (("Bill_Gates_0003", "Bill_Gates_0004"), ("Bill_Simon_0004", "Bill_Simon_0013")):
        frames = [pad_to(load_rgb(folder / name.rsplit("_", 1)[0] / f"{name}.jpg")) for name in (frontal, turned)]
        marks = [found[0].landmarks for found in track_faces(frames)]
        assert judge_challenge(ChallengeKind.TURN_RIGHT, marks).ok
        assert not judge_challenge(ChallengeKind.TURN_LEFT, marks).ok
        assert not judge_challenge(ChallengeKind.LOOK_UP, marks).ok
        assert not judge_challenge(ChallengeKind.LOOK_DOWN, marks).ok
        mirrored = [found[0].landmarks for found in track_faces([f[:, ::-1].copy() for f in frames])]
        assert judge_challenge(ChallengeKind.TURN_LEFT, mirrored).ok
        assert not judge_challenge(ChallengeKind.TURN_LEFT, [marks[0], marks[0]]).ok
