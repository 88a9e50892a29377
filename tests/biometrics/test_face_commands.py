"""`custodes eval faces` and `custodes bench checkin` on small real samples (full runs are commands)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from custodes.cli.main import app


@pytest.fixture
def small_pairs(lfw_dir, tmp_path):
    lines = (lfw_dir / "pairsDevTest.txt").read_text().splitlines()[1:]
    genuine = [line for line in lines if len(line.split()) == 3][:8]
    impostor = [line for line in lines if len(line.split()) == 4][:8]
    path = tmp_path / "pairs.txt"
    path.write_text("16\n" + "\n".join(genuine + impostor) + "\n")
    return path


def test_eval_faces_on_a_small_sample(lfw_dir, small_pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("CUSTODES_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    report_path = tmp_path / "report.json"
    args = ["eval", "faces", "--images", str(lfw_dir / "images"), "--pairs", str(small_pairs), "--out", str(out),
            "--json", str(report_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["listed_pairs"] == {"genuine": 8, "impostor": 8}
    # A file without folds gets no invented 10-fold figure.
    assert report["single_photo"]["lfw_ten_fold_accuracy"].startswith("not applicable")
    assert set(report["single_photo"]["at_calibrated_thresholds"]) >= {"1e-03", "1e-04"}
    assert report["operational"]["setting"].startswith("operational")
    assert (out / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    races = {row["group"]: row for row in report["per_group"]["race"]}
    assert all(row["fnmr_claim"] in ("too small for a claim", "not a group: no claim") for row in races.values())
    assert races["unlabelled"]["fmr_claim"] == "not a group: no claim"
    # Embeddings are cached per image: the second run computes nothing new.
    cached = list((tmp_path / "home" / "cache" / "faces").rglob("*.npz"))
    assert len(cached) == report["images"]
    again = CliRunner().invoke(app, args + ["--no-labels"])
    assert not (out / "faces-eval.json").exists()  # --json names the only report file
    assert again.exit_code == 0, again.output
    assert len(list((tmp_path / "home" / "cache" / "faces").rglob("*.npz"))) == len(cached)


def test_eval_faces_never_writes_the_shipped_calibration(lfw_dir, small_pairs):
    from custodes.biometrics.calibration import SHIPPED

    before = SHIPPED.read_bytes()
    args = ["eval", "faces", "--images", str(lfw_dir / "images"), "--pairs", str(small_pairs),
            "--calibrate", str(SHIPPED)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "would overwrite the shipped calibration" in result.output
    assert SHIPPED.read_bytes() == before


def test_eval_faces_refuses_a_bad_pairs_file(lfw_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1\nnot a pairs line at all\n")
    result = CliRunner().invoke(app, ["eval", "faces", "--images", str(lfw_dir / "images"), "--pairs", str(bad)])
    assert result.exit_code != 0
    assert "not an LFW pair line" in result.output


def test_bench_checkin_reports_latency_rss_and_baseline(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "checkin", "--count", "3", "--cores", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["checkin"]["checkins"] == 3 and report["baseline_plain_dlib"]["checkins"] == 3
    assert report["checkin"]["median_ms"] > 0 and report["peak_rss_mb"] > 50
    assert report["model_load_s"] >= 0 and "engine_version" in report
