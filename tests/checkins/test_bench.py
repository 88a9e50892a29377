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
