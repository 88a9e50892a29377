"""Ticks and late uploads give the same alerts whatever order they happen in: any interleaving of
uploads (each after its own last fix, possibly hours later, in any order) and ticks ends with the
standing alerts of the same trail sent in one go."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix, status
from custodes.lab.population import enrol
from custodes.telemetry.pipeline import Pipeline

from .conftest import EXCLUSION, HOME, ORDER_END, ORDER_START

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DAY = datetime(2027, 1, 15, tzinfo=UTC)  # London is on UTC in January
AWAY = (51.5000, -0.1050)
INSIDE_EXCLUSION = (51.5000, -0.1040)
STEP = timedelta(minutes=10)
CHUNKS = 6


def trail(day):
    """30 hours from noon: out during curfew (21:00-22:30), no coverage 02:00-04:30, a low battery,
    a visit to the exclusion zone next morning."""
    items, t = [], day + timedelta(hours=12)
    while t < day + timedelta(days=1, hours=18):
        h = (t - day) / timedelta(hours=1)
        if 26 <= h < 28.5:
            t += STEP
            continue
        where = AWAY if 21 <= h < 22.5 else INSIDE_EXCLUSION if 34 <= h < 34.7 else HOME
        items.append(fix(t, *where, 5.0))
        if abs(h - 29) < 1e-9:
            items.append(status(t, 15.0))
        t += STEP
    size = -(-len(items) // CHUNKS)
    return [items[i:i + size] for i in range(0, len(items), size)]


def last_time(chunk):
    return max(datetime.fromisoformat(i["time"].replace("Z", "+00:00")) for i in chunk)


def upload(client, clock, person, seq, items):
    body = encode(seq, items)
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def drain(p):
    while p.run_once().batches:
        pass


def standing(container, person):
    """(kind, key, instant) of every alert of the person not superseded by later data."""
    with container.uow(Actor.system("test")) as uow:
        rows = uow.session.scalars(select(Alert).where(Alert.subject_id == person.subject_id)).all()
    # keys name the subject and its conditions: compare them without those ids
    return sorted((a.kind, UUID.sub("-", a.dedupe_key), a.occurred_at) for a in rows if "superseded" not in a.evidence)


schedule = st.tuples(st.lists(st.integers(0, 20 * 60), min_size=CHUNKS, max_size=CHUNKS),
                     st.lists(st.integers(0, 40 * 60), max_size=8))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=schedule)
def test_any_interleaving_of_uploads_and_ticks_gives_the_alerts_of_one_go(client, clock, container, agencies, plan):
    delays, ticks = plan
    day = DAY
    chunks = trail(day)

    def person():
        return enrol(container, agencies["home_office"], home=HOME, since=ORDER_START, until=ORDER_END,
                     exclusions=[EXCLUSION])

    a = person()
    p = Pipeline(container)
    steps = [(last_time(c) + timedelta(minutes=d), 0, i) for i, (c, d) in enumerate(zip(chunks, delays, strict=True))]
    steps += [(day + timedelta(hours=12, minutes=m), 1, None) for m in ticks]
    final = max(t for t, *_ in steps) + timedelta(minutes=1)
    for at, what, i in sorted(steps, key=lambda s: s[:2]):
        clock.set(at)
        if what == 0:
            upload(client, clock, a, i + 1, chunks[i])
            drain(p)
        else:
            p.tick()
    clock.set(final)
    drain(p)
    p.tick()
    interleaved = standing(container, a)

    b = person()  # the same trail, sent in one go when everything is known
    for i, c in enumerate(chunks):
        upload(client, clock, b, i + 1, c)
    drain(p)
    p.tick()
    at_once = standing(container, b)
    assert interleaved == at_once
    kinds = {k for k, *_ in at_once}
    assert {"curfew_breach_started", "device_silent", "exclusion_zone_entered", "battery_low"} <= kinds
