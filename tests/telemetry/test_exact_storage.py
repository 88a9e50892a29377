"""What a device sends is what is stored and judged: long gaps, the antimeridian, the trail store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix
from custodes.lab.population import enrol
from custodes.telemetry import segment, trail
from custodes.telemetry.pipeline import Pipeline
from custodes.telemetry.schemas import SOURCES, FixColumns

from .conftest import HOME, ORDER_END, ORDER_START

INSIDE_EXCLUSION = (51.5000, -0.1040)


def upload(client, clock, person, seq, items, status=202):
    body = encode(seq, items)
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == status, r.text
    return r.json()


def alerts(container):
    with container.uow(Actor.system("test")) as uow:
        return [(a.kind, a.evidence) for a in uow.session.scalars(select(Alert).order_by(Alert.occurred_at))]


def points(container, subject_id, t_from, t_to):
    with container.uow(Actor.system("test")) as uow:
        return trail.read(uow.session, subject_id, t_from, t_to)


def test_a_gap_of_more_than_25_days_in_one_batch_is_stored_and_judged(client, clock, container, person):
    clock.advance(timedelta(days=40))  # the order started 54 days ago
    old = clock.now() - timedelta(days=26, minutes=5)
    items = [fix(old, *HOME, 5.0)] + [fix(clock.now() - timedelta(seconds=300 - 10 * i), *INSIDE_EXCLUSION, 5.0)
                                      for i in range(12)]
    assert upload(client, clock, person, 1, items)["accepted"] == 13
    Pipeline(container).run_once()
    pts = points(container, person.subject_id, old - timedelta(days=1), clock.now())
    assert [p.at for p in pts][:2] == [old, clock.now() - timedelta(seconds=300)]
    assert len(pts) == 13
    assert "exclusion_zone_entered" in [k for k, _ in alerts(container)]


def test_a_batch_across_the_antimeridian_is_stored_and_judged(client, clock, container, agencies):
    # Chukotka, by the Bering Strait: an exclusion zone just east of 180°, a walk from the west side into it.
    zone = {"circle": {"lat": 65.7, "lon": -179.99, "radius_m": 400.0}}
    person = enrol(container, agencies["home_office"], home=(65.7, 179.999), since=ORDER_START, until=ORDER_END,
                   exclusions=[zone], curfew=None, time_zone="Asia/Anadyr")
    t0 = clock.now() - timedelta(minutes=10)
    west = [fix(t0 + timedelta(seconds=10 * i), 65.7, 179.999, 5.0) for i in range(6)]
    east = [fix(t0 + timedelta(seconds=60 + 10 * i), 65.7, -179.99, 5.0) for i in range(20)]
    upload(client, clock, person, 1, west + east)
    turn = Pipeline(container).run_once()
    assert turn.batches == 1 and turn.fixes == 26
    pts = points(container, person.subject_id, t0, clock.now())
    assert [p.lon for p in pts] == [179.999] * 6 + [-179.99] * 20
    got = alerts(container)
    # leaving home (west of 180°) and entering the zone (east of it), both judged on the real positions
    by_kind = dict(got)
    assert sorted(by_kind) == ["exclusion_zone_entered", "inclusion_zone_exited"] and len(got) == 2
    assert by_kind["exclusion_zone_entered"]["lon"] == -179.99 and by_kind["exclusion_zone_entered"]["distance_m"] < 0


def test_a_fix_that_cannot_be_stored_exactly_is_refused_naming_the_item(client, clock, container, person, rows,
                                                                        monkeypatch):
    real = segment.pack

    def lossy(cols):  # a packer that drops the last fix's speed, as a broken format would
        blob = real(cols)
        back = segment.unpack(blob)
        back.speed_mps[-1] = 99.0
        return real(back)

    monkeypatch.setattr(segment, "pack", lossy)
    items = [fix(clock.now() - timedelta(seconds=60 - i), *HOME, 5.0, speed_mps=1.0) for i in range(3)]
    r = client.post(person.client.path, content=encode(1, items),
                    headers=person.client.http_headers(encode(1, items), clock.now()))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": "items[2]", "message": "speed_mps would not be stored as sent"}]
    assert rows("telemetry_batches") == 0


fixes = st.lists(st.tuples(st.integers(0, 3_000 * 86_400_000), st.floats(-90, 90), st.floats(-180, 180),
                           st.floats(0, 100_000, width=32), st.one_of(st.none(), st.floats(0, 1000, width=32)),
                           st.integers(0, 2)), min_size=1, max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows_=fixes)
def test_the_trail_store_gives_back_every_fix_exactly(container, rows_):
    base = 1_600_000_000_000
    n = len(rows_)
    cols = FixColumns(np.arange(n, dtype=np.int32), np.array([base + r[0] for r in rows_], np.int64),
                      np.array([r[1] for r in rows_]), np.array([r[2] for r in rows_]),
                      np.array([r[3] for r in rows_], np.float32), np.array([r[5] for r in rows_], np.uint8),
                      np.array([np.nan if r[4] is None else r[4] for r in rows_], np.float32))
    subject, device = uuid.uuid4(), uuid.uuid4()
    with container.uow(Actor.system("test")) as uow:
        trail.append(uow.session, subject_id=subject, device_id=device, batch_seq=7, cols=cols)
        uow.commit()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    got = points(container, subject, epoch + timedelta(milliseconds=base - 1), epoch + timedelta(days=30_000))
    want = segment.canonical(cols)
    expected = sorted(
        ((epoch + timedelta(milliseconds=int(want.t_ms[i])), float(want.lat[i]), float(want.lon[i]),
          float(want.accuracy_m[i]), SOURCES[want.source[i]],
          None if np.isnan(want.speed_mps[i]) else float(want.speed_mps[i]), f"{device}/7/{i}") for i in range(n)),
        key=lambda p: (p[0], p[6]))
    assert [(p.at, p.lat, p.lon, p.accuracy_m, p.source, p.speed_mps, p.fix_id) for p in got] == expected
