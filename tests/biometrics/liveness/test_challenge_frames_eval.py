"""`custodes eval challenge-frames` on a small real sample: check-ins are cut from one recorded
sequence each, every rule is judged on held-out subjects, and unrelated frames are counted."""

from __future__ import annotations

import numpy as np

from custodes.config import data_root
from custodes.lab.pad.evaluation import sequence_of
from custodes.lab.pad.frame_fusion import FRAMES_PER_CHECK_IN, RULES, check_ins, pad_fusion
from custodes.lab.pad.training import list_images, load_dataset


def test_pad_fusion_on_three_held_out_subjects():
    images = list_images(data_root() / "pad" / "nuaa-dev", subjects=["0001", "0004", "0007"], per_subject=9)
    data = load_dataset(images, progress=False)
    groups = check_ins(data)
    assert groups and all(len(g) == FRAMES_PER_CHECK_IN for g in groups)
    assert all(len({sequence_of(data.images[i]) for i in g}) == 1 for g in groups)  # never across sequences
    report = pad_fusion(data, progress=False)
    assert set(report["rules"]) == set(RULES)
    for rule in report["rules"].values():
        assert {r["subject"] for r in rule["subjects"]} == {"0001", "0004", "0007"}
        assert 0 <= rule["apcer"] <= 1 and 0 <= rule["bpcer"] <= 1
        assert rule["apcer_ci95"][0] <= rule["apcer"] <= rule["apcer_ci95"][1]
    assert report["check_ins"]["bona_fide"] + report["check_ins"]["attack"] == len(groups)


def test_unrelated_frames_are_counted_before_and_after_the_frame_check(engine, lfw_dir):
    from custodes.lab.faces.frame_identity import frame_trials

    report = frame_trials(engine, lfw_dir, limit=4, progress=False)
    unrelated, same = report["unrelated"], report["same_person"]
    assert unrelated["trials"] + same["trials"] + report["skipped_no_face_or_gate"] == 8
    for kind in ("turn_left", "turn_right", "look_up", "look_down"):
        before = unrelated[kind]["challenge_alone"]["count"]
        assert unrelated[kind]["challenge_and_frame_match_at_fmr_0.01"]["count"] <= before
    assert np.isfinite(same["median_score"])
