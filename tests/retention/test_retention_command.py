"""`custodes retention run`: a dry run lists what is due and deletes nothing; a run deletes it and
writes a JSON summary; a bad policy is one readable line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from custodes.cli.main import app as cli

from .conftest import HELD, held


def _env(settings, monkeypatch):
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))


def test_dry_run_then_run(settings, container, person_ending, monkeypatch, tmp_path):
    p = person_ending(4 * 365)  # due under the system clock too (the command runs on the real time)
    _env(settings, monkeypatch)
    r = CliRunner().invoke(cli, ["retention", "run", "--dry-run", "--json", str(tmp_path / "dry.json")])
    assert r.exit_code == 0, r.output
    dry = json.loads((tmp_path / "dry.json").read_text())
    assert dry["dry_run"] and dry["deleted_records"] == {} and dry["due_records"]["trail"] == HELD["trail_fixes"]
    assert held(container, p.subject_id)["subject"] == 1
    r = CliRunner().invoke(cli, ["retention", "run", "--json", str(tmp_path / "run.json")])
    assert r.exit_code == 0, r.output
    done = json.loads((tmp_path / "run.json").read_text())
    assert done["deleted_records"]["trail"] == HELD["trail_fixes"] and len(done["receipts"]) == 7
    assert held(container, p.subject_id)["subject"] == 0


def test_a_policy_over_six_years_is_refused_in_one_line(settings, container, monkeypatch):
    _env(settings, monkeypatch)
    monkeypatch.setenv("CUSTODES_RETENTION_TRAIL_DAYS", "3000")
    r = CliRunner().invoke(cli, ["retention", "run", "--dry-run"])
    assert r.exit_code == 1 and "retention.trail: 3000 days" in r.output and "Traceback" not in r.output
