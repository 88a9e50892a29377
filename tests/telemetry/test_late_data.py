"""Late data is judged by its own time: a buffer uploaded after the curfew window closed still
raises the breach inside it (marked late), and a `curfew_no_fix` it contradicts is resolved, not deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix
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
