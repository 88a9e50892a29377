"""On PostgreSQL, a batch stored while a tick is judging: the tick must not call the device silent on
the fixes that batch carries (seen in a 1,000-person day: device_silent raised a few seconds after the
fixes of the "silent" hour were stored). On SQLite the race cannot happen: a tick's transaction
takes the write lock at BEGIN IMMEDIATE, so the batch is stored before or after it, never during."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.telemetry.pipeline import Pipeline
from custodes.telemetry.ruleset import RuleCache

from .conftest import HOME
from .test_late_data import every, upload

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_a_batch_stored_during_a_tick_is_not_judged_silent(client, clock, container, person, monkeypatch):
    p = Pipeline(container)
    t0 = clock.now().replace(hour=8, minute=0)  # 15 January 2027, outside the curfew
    clock.set(t0 + timedelta(minutes=10))
    upload(client, clock, person, 1, every(t0, t0 + timedelta(minutes=10), HOME, timedelta(minutes=1)))
    p.run_once()
    p.tick()
    # 70 minutes on, the device's next batch (fixes of the whole hour) is stored while the tick is
    # between its query of devices with a backlog and its judgement
    clock.set(t0 + timedelta(minutes=80))
    hour = every(t0 + timedelta(minutes=10), t0 + timedelta(minutes=80), HOME, timedelta(minutes=1))
    read = RuleCache.versioned_many

    def arriving(self, session, ids):
        monkeypatch.setattr(RuleCache, "versioned_many", read)
        upload(client, clock, person, 2, hour)  # its own connection and transaction, committed
        return read(self, session, ids)

    monkeypatch.setattr(RuleCache, "versioned_many", arriving)
    p.tick()
    assert RuleCache.versioned_many is read  # the batch did arrive mid-tick
    assert p.run_once().batches == 1
    p.tick()
    with container.uow(Actor.system("test")) as uow:
        kinds = [a.kind for a in uow.session.scalars(select(Alert).where(Alert.subject_id == person.subject_id))]
    assert "device_silent" not in kinds
    # and silence is still judged: nothing more for an hour
    clock.set(t0 + timedelta(minutes=145))
    p.tick()
    with container.uow(Actor.system("test")) as uow:
        kinds = [a.kind for a in uow.session.scalars(select(Alert).where(Alert.subject_id == person.subject_id))]
    assert kinds.count("device_silent") == 1
