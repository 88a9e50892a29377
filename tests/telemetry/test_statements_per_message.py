"""The cost of a message does not grow with the fleet: SQL statements per message, counted at the
driver, for signing, storing (one group commit) and processing, at 100 and at 10,000 devices."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event

from custodes.devices import signing
from custodes.devices.models import Device
from custodes.lab.device_client import encode, fix
from custodes.telemetry import intake, service
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME

MESSAGES = 50


def _fleet(container, agency_id, n: int, start: int) -> list[tuple[uuid.UUID, str]]:
    """n devices with secrets, each with an old processed batch (the history a real fleet has)."""
    now = container.clock.now()
    made, devices, batches = [], [], []
    for i in range(start, start + n):
        d, secret = uuid.uuid4(), f"secret-{i:06d}-padding-padding"
        made.append((d, secret))
        devices.append({"id": d, "agency_id": agency_id, "kind": "ankle_tag", "serial": f"S-{i:06d}",
                        "barcode": f"B-{i:06d}", "status": "issued", "created_at": now,
                        "secret_sealed": signing.seal(container.device_key, d, secret), "secret_fingerprint": "x"})
        batches.append({"device_id": d, "seq": 0, "received_at": now, "channel": "http", "encoding": "json",
                        "raw": b"{}", "signature": "", "item_count": 0, "fix_count": 0, "statuses": [],
                        "rejected": [], "attempts": 0, "processed_at": now})
    with container.engine.begin() as conn:
        conn.execute(sa.insert(Device.__table__), devices)
        conn.execute(sa.insert(TelemetryBatch.__table__), batches)
    return made


def _per_message(container, devices: list[tuple[uuid.UUID, str]]) -> dict[str, float]:
    counts = {"n": 0}
    listener = lambda *_a, **_k: counts.__setitem__("n", counts["n"] + 1)  # noqa: E731
    now = container.clock.now()
    t0 = now - timedelta(minutes=5)
    bodies = [encode(1, [fix(t0 + timedelta(seconds=10 * k), HOME[0], HOME[1], 8.0) for k in range(10)])
              for _ in devices]
    event.listen(container.engine, "before_cursor_execute", listener)
    try:
        for d, secret in devices:  # first contact: the process reads each device once
            path = f"/v1/devices/{d}/telemetry"
            signing.verify(container, method="POST", path=path, body=b"{}", claimed_for=d, idempotent=True,
                           headers=signing.signed_headers(d, secret, "POST", path, b"{}", now))
        first = counts["n"]
        counts["n"] = 0
        uploads = []
        for (d, secret), body in zip(devices, bodies, strict=True):
            path = f"/v1/devices/{d}/telemetry"
            ident = signing.verify(container, method="POST", path=path, body=body, claimed_for=d, idempotent=True,
                                   headers=signing.signed_headers(d, secret, "POST", path, body, now))
            uploads.append(service.prepare(container, device_id=d, body=body, ndjson=False, channel="http",
                                           signature="s", fixes_from=ident.fixes_from))
        signed = counts["n"]
        results = intake.store_group(container, uploads)  # one group commit, as under load
        stored = counts["n"] - signed
        assert all(isinstance(r, intake.IngestResult) and not r.duplicate for r in results)
        turn = Pipeline(container).run_once()
        processed = counts["n"] - signed - stored
    finally:
        event.remove(container.engine, "before_cursor_execute", listener)
    assert turn.batches == len(devices)
    m = len(devices)
    return {"first contact": first / m, "signing": signed / m, "storing": stored / m, "processing": processed / m}


def test_statements_per_message_do_not_grow_with_the_fleet(container, agencies):
    agency = agencies["home_office"]
    small = _fleet(container, agency, 100, 0)
    at_100 = _per_message(container, small[:MESSAGES])
    big = _fleet(container, agency, 9_900, 100)
    at_10k = _per_message(container, big[-MESSAGES:])
    print("statements per message", at_100, at_10k)
    for step in ("first contact", "storing", "processing"):
        assert at_10k[step] <= at_100[step], (step, at_100, at_10k)
    # And storing is shared: a group of 50 uploads is a handful of statements, not a few per upload.
    assert at_100["storing"] <= 3 / MESSAGES + 1e-9, at_100
    # Processing too: one turn judges all 50 devices (a turn of its own took 8 statements each).
    assert at_100["processing"] <= 1, at_100
    # A device the process has seen is authenticated from memory (the credential cache's poll, at most
    # once a second, is all that is left); the first contact reads the device row with its order start
    # (and, on SQLite, its BEGIN), and no upload writes a nonce.
    assert at_100["signing"] <= 0.1 and at_10k["signing"] <= 0.1, (at_100, at_10k)
    assert at_100["first contact"] <= 2.1, at_100
