"""The check-in API benchmark runs end to end on real photos (a smoke test, not a timing test)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from custodes.cli.main import app


def test_bench_checkin_api_prints_both_measurements():
    r = CliRunner().invoke(app, ["bench", "checkin-api", "--submissions", "2"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{"):])
    assert out["submissions"] == 2 and out["api"]["median_ms"] > 0
    assert out["baseline_engine_and_liveness_only"]["median_ms"] > 0
    # Nods have no real frames in the data, so a drawn nod fails liveness; turns are verified.
    assert set(out["outcomes"]) <= {"match", "liveness_failed"}


def test_bench_checkin_measures_the_decision_with_its_challenge_frame(tmp_path):
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(app, ["bench", "checkin", "--count", "2", "--json", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["checkin"]["checkins"] == 2 and report["checkin"]["outcomes"] == {"match": 2}
    # The child's own peak (VmHWM), not the CLI parent's carried over exec: models add to it.
    assert 0 < report["rss_before_models_mb"] < report["peak_rss_mb"] <= report["peak_rss_with_baseline_mb"]
    assert report["checkin"]["stage_median_ms"]["compare"] > 1  # the challenge frame is matched too
