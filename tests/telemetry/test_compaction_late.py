"""Late data replayed over a compacted trail raises what it raises over the trail as ingested: two
identical people get the same uploads, one's trail is compacted before a late batch arrives."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.population import enrol
from custodes.telemetry import compaction, trail
from custodes.telemetry.pipeline import Pipeline

from .conftest import EXCLUSION, HOME, ORDER_END, ORDER_START
from .test_late_data import every, upload

INSIDE_EXCLUSION = (51.5000, -0.1040)


def _alerts(container, subject_id):
    with container.uow(Actor.system("test")) as uow:
        return sorted((a.kind, a.occurred_at, a.status, a.reason or "")  # the keys name each one's own zone
                      for a in uow.session.scalars(select(Alert).where(Alert.subject_id == subject_id)))


def test_a_late_batch_over_a_compacted_trail_raises_the_same_alerts(client, clock, container, agencies):
    a, b = (enrol(container, agencies["home_office"], home=HOME, since=ORDER_START, until=ORDER_END,
                  exclusions=[EXCLUSION]) for _ in range(2))
    day = clock.now().replace(hour=0)
    p = Pipeline(container)
    for k in range(36):  # 12:00-18:00 at home, an upload every 10 minutes
        t = day + timedelta(hours=12, minutes=10 * k)
        clock.set(t + timedelta(minutes=10))
        for person in (a, b):
            upload(client, clock, person, k, every(t, t + timedelta(minutes=10), HOME))
        while p.run_once().batches:
            pass
    clock.set(day + timedelta(hours=18, minutes=30))
    done = compaction.run(container, devices=[a.device_id])  # a's hours 12:00-18:00 become six segments
    assert done.segments_in == 36 and done.segments_out == 6
    late = every(day + timedelta(hours=13), day + timedelta(hours=13, minutes=30), INSIDE_EXCLUSION,
                 step=timedelta(minutes=1))
    for person in (a, b):  # a buffer from 13:00, inside the exclusion zone, arrives five hours late
        upload(client, clock, person, 100, late)
    while p.run_once().batches:
        pass
    got = _alerts(container, a.subject_id)
    assert any(kind == "exclusion_zone_entered" for kind, *_ in got)
    assert got == _alerts(container, b.subject_id)
    with container.uow(Actor.system("test")) as uow:
        cols_a, seq_a = trail.columns_since(uow.session, a.subject_id, None)
        cols_b, seq_b = trail.columns_since(uow.session, b.subject_id, None)
    assert (cols_a.t_ms == cols_b.t_ms).all() and (seq_a == seq_b).all() and len(cols_a) == 36 * 2 + 30
