"""Late data is judged by its own time: a buffer uploaded after the curfew window closed still
raises the breach inside it (marked late), and a `curfew_no_fix` it contradicts is resolved, not deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME

AWAY = (51.5000, -0.1050)  # about 1 km east of home, outside the home circle and the exclusion zone


def upload(client, clock, person, seq, items):
    body = encode(seq, items)
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def every(start: datetime, end: datetime, where, step=timedelta(minutes=5)):
    out, t = [], start
    while t < end:
        out.append(fix(t, *where, 5.0))
        t += step
    return out


def alerts(container, subject_id):
    with container.uow(Actor.system("test")) as uow:
        return {a.kind: a for a in uow.session.scalars(select(Alert).where(Alert.subject_id == subject_id))}


def test_a_buffer_uploaded_after_the_window_closed_raises_the_breach_marked_late(client, clock, container, person):
    day = clock.now().replace(hour=0)  # 15 January 2027: London is on UTC
    p = Pipeline(container)
    clock.set(day + timedelta(hours=18))
    upload(client, clock, person, 1, every(day + timedelta(hours=17, minutes=30), day + timedelta(hours=18), HOME))
    p.run_once()
    clock.set(day + timedelta(hours=19, minutes=31))
    p.tick()
    clock.set(day + timedelta(days=1, hours=7, minutes=1))
    p.tick()
    before = alerts(container, person.subject_id)
    assert "curfew_no_fix" in before and "curfew_breach_started" not in before
    # Coverage comes back at 08:00: the tag uploads what it buffered through the night.
    clock.set(day + timedelta(days=1, hours=8))
    night = (every(day + timedelta(hours=18), day + timedelta(hours=21), HOME)
             + every(day + timedelta(hours=21), day + timedelta(hours=23), AWAY)
             + every(day + timedelta(hours=23), day + timedelta(days=1, hours=8), HOME))
    upload(client, clock, person, 2, night)
    p.run_once()
    after = alerts(container, person.subject_id)
    breach = after["curfew_breach_started"]
    assert breach.occurred_at == day + timedelta(hours=21, minutes=5)  # the first fix surely outside
    late = breach.evidence["late"]
    assert late["fix_at"].startswith(str((day + timedelta(hours=21, minutes=5)).date()))
    assert late["received_at"] == (day + timedelta(days=1, hours=8)).isoformat().replace("+00:00", "Z")
    assert late["delay_s"] == (timedelta(hours=11) - timedelta(minutes=5)).total_seconds()
    no_fix = after["curfew_no_fix"]  # still there, resolved with the reason, and annotated
    assert no_fix.id == before["curfew_no_fix"].id and no_fix.status == "resolved"
    assert no_fix.outcome is None and "late fixes" in no_fix.reason  # outcomes stay an officer's decision
    assert no_fix.evidence["superseded"]["by_batch"] == f"{person.device_id}/2"
    assert after["device_silent"].status == "resolved"  # it was never silent: it had no coverage


def test_a_late_batch_with_a_backlog_behind_it_is_judged_on_all_of_it(client, clock, container, person):
    """Seen over two workers sharing the MQTT subscription: one device's batch stored after the next
    one was processed (late), the device's next hour of batches stored behind it. Judging the late
    batch on the batches before it alone raised a device_silent alert for an hour whose fixes were
    already stored (superseded by the next batch of the same turn, but raised); judging only the
    turn's share raised one for the hour the turn after would fill in."""
    p = Pipeline(container)
    t0 = clock.now().replace(hour=8, minute=0)  # 15 January 2027, outside the curfew
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    # upload k carries the fixes of minutes [3(k-1), 3k): 80 uploads, four hours
    items = {k: [fix(at(m), *HOME, 5.0) for m in range(3 * (k - 1), 3 * k)] for k in range(1, 81)}
    for k in range(1, 28):
        clock.set(at(3 * k + 1))
        upload(client, clock, person, k, items[k])
        p.run_once()
    clock.set(at(87 + 100))  # upload 29 overtook 28 and was processed; 28 is still on its way
    upload(client, clock, person, 29, items[29])
    p.run_once()
    for m in range(102, 131, 4):  # ticks judge the device on what it sent (silent since its last fix)
        clock.set(at(87 + m))
        p.tick()
    clock.set(at(87 + 131))
    upload(client, clock, person, 28, items[28])  # late, with the next two and a half hours behind it
    for k in range(30, 81):
        clock.set(at(87 + 131 + k - 29))
        upload(client, clock, person, k, items[k])
        p.tick()  # left alone: the device has a backlog
    turns = []
    while (t := p.run_once()).batches:
        turns.append(t.batches)
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        silent = s.scalars(select(Alert).where(Alert.subject_id == person.subject_id,
                                               Alert.kind == "device_silent")).all()
        stored = {b.seq: b.received_at for b in s.scalars(select(TelemetryBatch).where(
            TelemetryBatch.device_id == person.device_id))}
    assert silent  # the one the ticks had to raise: nothing of its hour had been stored
    for a in silent:
        seen = datetime.fromisoformat(a.evidence["last_seen"])
        carried = [k for k, fixes in items.items()
                   if any(seen < datetime.fromisoformat(f["time"].replace("Z", "+00:00")) <= a.occurred_at
                          for f in fixes)]
        assert all(stored[k] > a.raised_at for k in carried), (a.occurred_at, a.raised_at, carried)
        assert a.status == "resolved" and "superseded" in a.evidence  # and the late data undid it
    assert turns == [52]  # the whole backlog in the turn of the late batch
