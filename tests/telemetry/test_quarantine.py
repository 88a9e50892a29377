"""No device can be stalled: a batch that keeps failing is quarantined with its error, an integrity
alert is raised, and that device's later batches (and every other device's) go on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.audit.models import AuditEntry
from custodes.cli.main import app as cli
from custodes.lab.device_client import encode, fix
from custodes.telemetry import pipeline as pipeline_module
from custodes.telemetry import trail
from custodes.telemetry import turn as turn_module
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME


def upload(client, clock, person, seq, n=5, start_s=300):
    t0 = clock.now() - timedelta(seconds=start_s)
    body = encode(seq, [fix(t0 + timedelta(seconds=10 * i), *HOME, 5.0) for i in range(n)])
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def trail_size(container, person, clock):
    with container.uow(Actor.system("test")) as uow:
        return len(trail.read(uow.session, person.subject_id, clock.now() - timedelta(hours=2), clock.now()))


def poison(monkeypatch, device_id, seq):
    """A bug that makes one batch fail every time (as an unreadable blob or a rules crash would)."""
    real = pipeline_module.evaluate

    def evaluate(state, rules, now, device, batch_seq, cols, statuses):
        if (device, batch_seq) == (device_id, seq):
            raise RuntimeError("boom: cannot judge this batch\nsecond line of a traceback")
        return real(state, rules, now, device, batch_seq, cols, statuses)

    real_many = turn_module.evaluate_many

    def evaluate_many(runs, now, beacons=None):  # the turn over many devices meets the same bug
        if any((r.device_id, r.seq) == (device_id, seq) for r in runs):
            raise RuntimeError("boom: cannot judge this batch\nsecond line of a traceback")
        return real_many(runs, now, beacons)

    monkeypatch.setattr(pipeline_module, "evaluate", evaluate)
    monkeypatch.setattr(turn_module, "evaluate_many", evaluate_many)


def test_a_poisoned_batch_is_quarantined_and_later_batches_go_on(client, clock, container, person, other_person,
                                                                  monkeypatch):
    poison(monkeypatch, person.device_id, 1)
    upload(client, clock, person, 1, start_s=900)
    upload(client, clock, person, 2)
    upload(client, clock, other_person, 1)
    p = Pipeline(container, retry_after_s=0, max_attempts=3)
    p.run_once()
    assert trail_size(container, other_person, clock) == 5  # the other device never waits
    for _ in range(3):
        p.run_once()
    with container.uow(Actor.system("test")) as uow:
        b1 = uow.session.scalars(select(TelemetryBatch).where(TelemetryBatch.device_id == person.device_id,
                                                              TelemetryBatch.seq == 1)).one()
        assert b1.quarantined_at is not None and b1.processed_at is None and b1.attempts == 3
        assert b1.last_error == "RuntimeError: boom: cannot judge this batch"
        alert = uow.session.scalars(select(Alert).where(Alert.kind == "telemetry_batch_quarantined")).one()
        assert alert.category == "integrity" and alert.subject_id == person.subject_id
        assert alert.evidence["batch"] == f"{person.device_id}/1" and "boom" in alert.evidence["error"]
    assert trail_size(container, person, clock) == 5  # batch 2 went on
    upload(client, clock, person, 3, start_s=100)  # and later ones too
    p.run_once()
    assert trail_size(container, person, clock) == 10
    # The ticks are not held back by a quarantined batch: the device has no backlog.
    clock.advance(timedelta(hours=2))
    p.tick()
    with container.uow(Actor.system("test")) as uow:
        kinds = set(uow.session.scalars(select(Alert.kind).where(Alert.subject_id == person.subject_id)))
    assert "device_silent" in kinds


def test_quarantine_list_and_replay_once_the_cause_is_fixed(client, clock, container, person, monkeypatch,
                                                              settings, tmp_path):
    monkeypatch.setenv("CUSTODES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    poison(monkeypatch, person.device_id, 1)
    upload(client, clock, person, 1)
    p = Pipeline(container, retry_after_s=0, max_attempts=2)
    p.run_once()
    p.run_once()
    runner = CliRunner()
    listed = runner.invoke(cli, ["telemetry", "quarantine", "list"])
    assert listed.exit_code == 0, listed.output
    lines = [ln for ln in listed.output.splitlines() if str(person.device_id) in ln]
    assert len(lines) == 1 and " 1 " in f" {lines[0]} " and "boom" in lines[0]
    bad = runner.invoke(cli, ["telemetry", "quarantine", "replay", "--device", "not-a-uuid"])
    assert bad.exit_code == 1
    out = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert len(out) == 1 and out[0].startswith("error:"), bad.output
    monkeypatch.undo()  # the cause is fixed (the bug is gone)
    monkeypatch.setenv("CUSTODES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    replayed = runner.invoke(cli, ["telemetry", "quarantine", "replay", "--device", str(person.device_id)])
    assert replayed.exit_code == 0, replayed.output
    assert "1 batch" in replayed.output
    with container.uow(Actor.system("test")) as uow:  # the replay of evidence is audited
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "telemetry_batch")).one()
        assert entry.action == "update" and entry.detail["replay"] == f"{person.device_id}/1"
    assert p.run_once().batches == 1
    assert trail_size(container, person, clock) == 5
    assert runner.invoke(cli, ["telemetry", "quarantine", "list"]).output.count(str(person.device_id)) == 0
