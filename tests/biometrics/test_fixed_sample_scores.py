"""Speed and memory work must not move the scores: a fixed sample of real faces, scored by the
engine, against the file recorded before that work (`data/fixed_sample_scores.json`, written by
`python -m custodes.lab.faces.fixed_sample` on the engine of commit "tests: fixed-sample scores")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custodes.lab.faces.fixed_sample import score_sample

RECORDED = json.loads((Path(__file__).parent / "data" / "fixed_sample_scores.json").read_text())
# SFace on OpenCV's new DNN engine differs from the classic engine in the 6th decimal of a
# fused score (float summation order); the decision records keep 4 decimals.
SCORE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def now(engine):
    return score_sample(engine)


def test_the_same_models_and_calibration(now):
    assert now["engine_version"] == RECORDED["engine_version"]
    assert now["pad_version"] == RECORDED["pad_version"]
    assert now["gate_refused"] == RECORDED["gate_refused"]


def test_every_comparison_scores_and_decides_as_recorded(now):
    assert set(now["comparisons"]) == set(RECORDED["comparisons"])
    assert sum(c["genuine"] for c in now["comparisons"].values()) >= 12
    for key, before in RECORDED["comparisons"].items():
        after = now["comparisons"][key]
        assert after["score"] == pytest.approx(before["score"], abs=SCORE_TOLERANCE), key
        assert after["matched"] == before["matched"], key


def test_liveness_scores_as_recorded(now):
    assert now["passive_logits"] == pytest.approx(RECORDED["passive_logits"], abs=1e-9)
    assert set(now["liveness"]) == set(RECORDED["liveness"])
    for key, before in RECORDED["liveness"].items():
        after = now["liveness"][key]
        assert after["reasons"] == before["reasons"], key
        assert after["passive_score"] == pytest.approx(before["passive_score"], abs=1e-9), key
        assert after["movement"] == pytest.approx(before["movement"], abs=1e-9), key
