"""The pipeline: trail, rules, alerts in one transaction per device turn; crashes lose nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix, status
from custodes.telemetry import trail
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME

INSIDE_EXCLUSION = (51.5000, -0.1040)


def upload(client, clock, person, seq, items):
    body = encode(seq, items)
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text
    return r.json()


def walk(clock, start_s, n, where, step_s=10, acc=5.0):
    t0 = clock.now() - timedelta(seconds=start_s)
    return [fix(t0 + timedelta(seconds=i * step_s), where[0], where[1], acc) for i in range(n)]


def alerts(container):
    with container.uow(Actor.system("test")) as uow:
        return [(a.kind, a.category, a.dedupe_key) for a in uow.session.scalars(select(Alert).order_by(Alert.kind))]


def test_entering_an_exclusion_zone_raises_one_alert_and_fills_the_trail(client, clock, container, person, rows):
    upload(client, clock, person, 1, walk(clock, 1200, 30, HOME) + walk(clock, 600, 30, INSIDE_EXCLUSION))
    turn = Pipeline(container).run_once()
    assert (turn.batches, turn.fixes, turn.alerts) == (1, 60, 1)
    got = alerts(container)
    assert [(k, c) for k, c, _ in got] == [("exclusion_zone_entered", "breach")]
    assert rows("trail_segments") == 1
    with container.uow(Actor.system("test")) as uow:
        pts = trail.read(uow.session, person.subject_id, clock.now() - timedelta(hours=1), clock.now())
        alert = uow.session.scalars(select(Alert)).one()
    assert len(pts) == 60 and all(p.accuracy_m == 5.0 for p in pts)
    assert alert.evidence["source_batch"] == f"{person.device_id}/1"
    assert alert.evidence["fix_id"].startswith(f"{person.device_id}/1/")
    assert Pipeline(container).run_once().batches == 0  # nothing left to do


def test_out_of_order_batches_are_placed_by_their_own_time(client, clock, container, person):
    upload(client, clock, person, 2, walk(clock, 300, 10, HOME))   # newer fixes first
    upload(client, clock, person, 1, walk(clock, 600, 10, HOME))   # then older ones
    upload(client, clock, person, 3, list(reversed(walk(clock, 900, 5, HOME))))  # reversed inside a batch
    Pipeline(container).run_once()
    with container.uow(Actor.system("test")) as uow:
        pts = trail.read(uow.session, person.subject_id, clock.now() - timedelta(hours=1), clock.now())
    times = [p.at for p in pts]
    assert len(pts) == 25 and times == sorted(times)
    assert pts[0].fix_id.startswith(f"{person.device_id}/3/")


@pytest.mark.parametrize("step", ["trail", "rules", "commit"])
def test_a_crash_between_steps_loses_nothing_and_duplicates_nothing(client, clock, container, person, rows, step):
    upload(client, clock, person, 1, walk(clock, 1200, 30, HOME) + walk(clock, 600, 30, INSIDE_EXCLUSION))
    upload(client, clock, person, 2, walk(clock, 200, 10, HOME))

    def crash(at):
        if at == step:
            raise SystemExit(f"killed at {step}")

    with pytest.raises(SystemExit):
        Pipeline(container, crash_hook=crash).run_once()
    assert rows("trail_segments") == 0 and rows("alerts") == 0  # the whole turn rolled back
    turn = Pipeline(container).run_once()
    assert (turn.batches, turn.fixes, turn.alerts) == (2, 70, 1)
    assert rows("trail_segments") == 2 and rows("alerts") == 1
    assert Pipeline(container).run_once().batches == 0


def test_battery_is_a_device_fault_not_a_breach(client, clock, container, person):
    t = clock.now() - timedelta(minutes=2)
    upload(client, clock, person, 1, walk(clock, 300, 5, HOME) + [status(t, 3.0, "closed")])
    Pipeline(container).run_once()
    got = alerts(container)
    assert got and all(c == "device_fault" for _, c, _ in got)
    assert "battery_critical" in [k for k, _, _ in got]


def test_curfew_start_is_checked_by_the_tick_with_no_new_fix(client, clock, container, person):
    upload(client, clock, person, 1, walk(clock, 300, 5, HOME))  # 12:00 UTC, at home
    p = Pipeline(container)
    p.run_once()
    p.tick()
    assert alerts(container) == []
    clock.advance(timedelta(hours=7, minutes=31))  # 19:31 London time (GMT in January), no fix since noon
    p.tick()
    kinds = [k for k, _, _ in alerts(container)]
    assert "curfew_no_fix" in kinds
    p.tick()
    assert len(alerts(container)) == len(kinds)  # transitions only: a second tick raises nothing new


def test_the_runner_processes_uploads_by_itself(client, clock, container, person, rows):
    """What `custodes serve` (embedded) and `custodes worker` run: no explicit pipeline call."""
    import time

    from custodes.runner import Runner

    runner = Runner(container, mqtt=False, name="test-runner", tick_s=0, notify=False)
    runner.start()
    try:
        upload(client, clock, person, 1, walk(clock, 300, 10, HOME))
        runner.wake()
        deadline = time.monotonic() + 10
        while rows("trail_segments") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert rows("trail_segments") == 1


def test_one_failing_device_does_not_stall_the_others(client, clock, container, person, other_person, rows):
    upload(client, clock, person, 1, walk(clock, 300, 5, HOME))
    upload(client, clock, other_person, 1, walk(clock, 300, 5, HOME))
    pipeline = Pipeline(container)
    broken = person.subject_id
    real = pipeline.rules.versioned_many

    def flaky(session, subject_ids):  # both paths (many devices, one device) read rules through it
        if broken in subject_ids:
            raise ValueError("a rule set that does not compile")
        return real(session, subject_ids)

    pipeline.rules.versioned_many = flaky
    assert pipeline.run_once().batches == 1  # the other device went through
    assert rows("trail_segments") == 1
    pipeline.rules.versioned_many = real
    assert pipeline.run_once().batches == 0  # the failing device waits out its pause ...
    pipeline._failing.clear()
    assert pipeline.run_once().batches == 1  # ... and is then retried with nothing lost
