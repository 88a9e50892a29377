"""A rule set that exhausts the bounds, stored behind the API's back, stops nobody: its subject
gets an integrity alert, every other device is processed and ticked as usual."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix
from custodes.orders.models import Condition, Order
from custodes.telemetry import trail
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME

ALL = ",".join(map(str, range(60)))
RUNAWAY = ["FREQ=DAILY;INTERVAL=0", "FREQ=SECONDLY;FREQ=DAILY",
           f"FREQ=DAILY;BYHOUR={','.join(map(str, range(24)))};BYMINUTE={ALL};BYSECOND={ALL}"]


def upload(client, clock, person, seq, n=5):
    t0 = clock.now() - timedelta(seconds=300)
    body = encode(seq, [fix(t0 + timedelta(seconds=10 * i), *HOME, 5.0) for i in range(n)])
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def within(seconds, fn):
    """Run fn in a thread; fail (rather than hang the suite) if it spins."""
    out, err = [], []
    t = threading.Thread(target=lambda: _call(fn, out, err), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s: the evaluation spins"
    if err:
        raise err[0]
    return out[0]


def _call(fn, out, err):
    try:
        out.append(fn())
    except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
        err.append(exc)


@pytest.mark.parametrize("rrule", RUNAWAY)
def test_a_runaway_rule_in_the_database_cannot_stop_another_device(client, clock, container, person, other_person,
                                                                   rrule):
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        cid = s.scalars(select(Condition.id).join(Order, Order.id == Condition.order_id)
                        .where(Order.subject_id == person.subject_id, Condition.kind == "curfew")).one()
        spec = dict(s.get(Condition, cid).spec, rrule=rrule)
        s.execute(update(Condition).where(Condition.id == cid).values(spec=spec))
        uow.commit()
    upload(client, clock, person, 1)
    upload(client, clock, other_person, 1)
    p = Pipeline(container, retry_after_s=0, max_attempts=2)
    for _ in range(3):
        within(20, p.run_once)
    with container.uow(Actor.system("test")) as uow:
        pts = trail.read(uow.session, other_person.subject_id, clock.now() - timedelta(hours=1), clock.now())
        assert len(pts) == 5  # the other device was processed
        b = uow.session.scalars(select(TelemetryBatch).where(TelemetryBatch.device_id == person.device_id)).one()
        assert b.quarantined_at is not None and "cannot be evaluated" in b.last_error
    clock.advance(timedelta(hours=7, minutes=31))  # 19:31 London: the other's curfew has begun, no fix
    within(20, p.tick)
    with container.uow(Actor.system("test")) as uow:
        got = {(a.subject_id, a.kind): a for a in uow.session.scalars(select(Alert))}
    assert (other_person.subject_id, "curfew_no_fix") in got  # ticks go on for everyone else
    bad = got[(person.subject_id, "rules_unevaluable")]
    assert bad.category == "integrity" and bad.evidence["condition_id"] == str(cid)
    assert bad.evidence["field"] == "spec.rrule"
    assert (person.subject_id, "telemetry_batch_quarantined") in got
