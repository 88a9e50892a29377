"""Metrics, calibration arithmetic and label parsing used by `custodes eval faces`."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.biometrics.calibration import (
    Calibration,
    ModelNorm,
    fmr_at,
    threshold_at_fmr,
)
from custodes.biometrics.fairness import load_labels
from custodes.biometrics.metrics import at_threshold, ten_fold_accuracy, wilson
from custodes.lab.faces.lfw import read_pairs


def test_wilson_interval_known_values():
    lo, hi = wilson(1, 21)  # 4.8 % of 21: the interval the face notes quote
    assert (round(lo * 100, 1), round(hi * 100, 1)) == (0.8, 22.7)
    lo, hi = wilson(0, 12)
    assert lo == 0.0 and hi == pytest.approx(1.959964**2 / (12 + 1.959964**2))  # 24.25 %


def test_threshold_meets_the_target_fmr_exactly():
    rng = np.random.default_rng(0)
    impostor = rng.normal(size=100_000)
    for target in (1e-2, 1e-3, 1e-4):
        thr = threshold_at_fmr(impostor, target)
        assert fmr_at(impostor, thr) <= target
        # and it is the loosest such threshold: one step lower admits one more false match
        assert fmr_at(impostor, np.nextafter(thr, -np.inf) - 1e-12) > target or target * len(impostor) < 1


def test_ten_fold_accuracy_and_operating_point():
    rng = np.random.default_rng(1)
    same = np.arange(600) % 2 == 0
    scores = np.where(same, rng.normal(3, 1, 600), rng.normal(0, 1, 600))
    acc = ten_fold_accuracy(scores, same, np.arange(600) // 60)
    assert 0.9 < acc["mean"] < 0.98 and len(acc["folds"]) == 10
    assert ten_fold_accuracy(scores, same) is None  # no folds in the file: no invented split
    row = at_threshold(scores[same], scores[~same], 1.5)
    assert 0 < row["fnmr"] < 0.15 and row["fnmr_ci95"][0] < row["fnmr"] < row["fnmr_ci95"][1]


def test_lfw_folds_come_from_the_pairs_file(tmp_path):
    # LFW pairs.txt: "10 300", then per fold 300 same-person lines and 300 different-person lines.
    same = ["A_A\t1\t2"] * 3
    diff = ["A_A\t1\tB_B\t1"] * 3
    path = tmp_path / "pairs.txt"
    path.write_text("2\t3\n" + "\n".join(same + diff + same + diff) + "\n")
    folds = [p.fold for p in read_pairs(path)]
    assert folds == [0] * 6 + [1] * 6  # not index mod 10
    path.write_text("2\t3\n" + "\n".join(same + diff) + "\n")
    with pytest.raises(ValueError, match="folds"):
        read_pairs(path)


def test_det_points_sort_once_and_match_the_threshold_rule():
    from custodes.biometrics.metrics import det_points

    rng = np.random.default_rng(2)
    imp, gen = rng.normal(size=200_000).astype(np.float32), rng.normal(3, 1, 2_000).astype(np.float32)
    fmr, fnmr = det_points(gen, imp)
    for target in (1e-2, 1e-3, 1e-4):
        k = int(np.argmin(np.abs(np.log(fmr) - np.log(target))))
        assert fmr[k] <= target * 1.05
    assert np.all(np.diff(fmr) >= 0) and np.all(np.diff(fnmr) <= 0)


def test_fusion_is_weighted_z_scores():
    cal = Calibration("t", (ModelNorm("a", "1", 1.0, 2.0, 0.5), ModelNorm("b", "1", 0.0, 0.5, 0.5)), {"1e-03": 1.0})
    assert float(cal.fuse({"a": 5.0, "b": 1.0})) == pytest.approx(0.5 * 2 + 0.5 * 2)
    assert Calibration.from_json(cal.to_json()) == cal


def test_pairs_and_labels_parse_with_malformed_lines(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\nAaron_Peirsol\t1\t2\nAbdoulaye_Wade\t4\tLinda_Dano\t1\n")
    parsed = read_pairs(pairs)
    assert parsed[0].same and parsed[0].a == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    assert not parsed[1].same and parsed[1].b == "Linda_Dano/Linda_Dano_0001.jpg"
    pairs.write_text("1\nonly_one_field\n")
    with pytest.raises(ValueError, match="not an LFW pair line"):
        read_pairs(pairs)
    (tmp_path / "lfw_race_by_identity.json").write_text('{"A_B": "african", "C_D": "african,caucasian"}')
    (tmp_path / "lfw_female_images.txt").write_text("A_B_0001.jpg\nnot an image name\nE_F_0002.jpg\n")
    (tmp_path / "lfw_male_images.txt").write_text("C_D_0001.jpg\nE_F_0002.jpg\n\n")
    labels = load_labels(tmp_path)
    assert labels.race_by_identity == {"A_B": "african", "C_D": "multiple"}
    assert labels.gender_by_image == {"A_B/A_B_0001.jpg": "female", "C_D/C_D_0001.jpg": "male"}
    assert labels.malformed_lines == 1 and labels.conflicting_images == 1


def test_group_claims_need_enough_trials_unless_the_excess_is_certain():
    from custodes.biometrics.fairness import _group_rates

    small_but_clearly_high = _group_rates("g", np.ones(20), np.r_[np.ones(30), np.zeros(1370)], 0.5, 1e-3)
    assert small_but_clearly_high["fnmr_claim"] == "too small for a claim"
    assert small_but_clearly_high["fmr_claim"].startswith("above target")
    small_and_unclear = _group_rates("g", np.ones(20), np.zeros(1400), 0.5, 1e-3)
    assert small_and_unclear["fmr_claim"] == "too small for a claim"
    large = _group_rates("g", np.ones(200), np.zeros(20_000), 0.5, 1e-3)
    assert large["fnmr_claim"] == "enough trials" and large["fmr_claim"] == "within target" and large["fnmr"] == 0.0
    # A large group whose whole interval sits above the target is reported as such, not as fine.
    large_high = _group_rates("g", np.ones(200), np.r_[np.ones(40), np.zeros(19_960)], 0.5, 1e-3)
    assert large_high["fmr_claim"] == "above target"
    large_unclear = _group_rates("g", np.ones(200), np.r_[np.ones(22), np.zeros(19_978)], 0.5, 1e-3)
    assert large_unclear["fmr_claim"] == "not distinguishable from target"
