"""A database outage parks a device for a short, doubling wait (0.5 s up to 5 s), not for the 30 s a
bad batch earns; the wait starts again from the bottom once a turn succeeds."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import OperationalError

from custodes.telemetry import pipeline
from custodes.telemetry.pipeline import DB_BACKOFF_MAX_S, RETRY_FAILED_S, Pipeline, Turn


def test_database_outage_backs_off_from_half_a_second_to_five(container, monkeypatch):
    p = Pipeline(container)
    device = uuid.uuid4()
    down = {"now": True}

    def process(device_id, limit=None):
        if down["now"]:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return Turn(batches=1)

    def many(container, rules, device_ids, **kw):  # the turn over many devices fails as a whole first
        if down["now"]:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return Turn(), list(device_ids)

    monkeypatch.setattr(p, "pending_devices", lambda limit=512: [device])
    monkeypatch.setattr(pipeline, "process_many", many)
    monkeypatch.setattr(p, "process_device", process)
    waits = []
    for _ in range(6):
        p._failing.clear()  # as if each wait had passed
        p.run_once()
        waits.append(round(p._db_backoff[device], 2))
    assert waits == [0.5, 1.0, 2.0, 4.0, DB_BACKOFF_MAX_S, DB_BACKOFF_MAX_S]
    assert max(waits) < RETRY_FAILED_S
    down["now"] = False
    p._failing.clear()
    assert p.run_once().batches == 1
    assert device not in p._db_backoff and device not in p._failing
