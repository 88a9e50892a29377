"""Each process remembers device credentials until the database says the device changed: a rotated
secret, a new assignment and a changed order reach another process at its next poll, and an upload
signed by a remembered device needs no database read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from custodes.bootstrap import bootstrap
from custodes.devices import credentials
from custodes.devices.signing import signed_headers, verify
from custodes.errors import Unauthorized

PATH = "/v1/devices/{}/telemetry"


@pytest.fixture
def other(settings, clock):
    """A second process on the same database (its own container, so its own cache)."""
    c = bootstrap(settings, clock)
    yield c
    c.close()


def _device(client, cw, n=1):
    r = client.post("/v1/devices", json={"kind": "ankle_tag", "serial": f"TAG-{n}", "barcode": f"5000000{n}"},
                    headers=cw)
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"]), r.json()["secret"]


def _verify(container, device_id, secret, body=b'{"seq":1}'):
    path = PATH.format(device_id)
    headers = signed_headers(device_id, secret, "POST", path, body, container.clock.now())
    return verify(container, method="POST", path=path, headers=headers, body=body, claimed_for=device_id,
                  idempotent=True)


def _statements(container):
    seen = []
    event.listen(container.engine, "before_cursor_execute", lambda *a, **k: seen.append(a[2]))
    return seen


def test_a_rotated_secret_is_refused_by_another_process_at_its_next_poll(client, officer, container, other):
    d, old = _device(client, officer("caseworker"))
    assert _verify(other, d, old).device_id == d  # the other process now remembers the old secret
    r = client.post(f"/v1/devices/{d}/secret", headers=officer("caseworker"))
    assert r.status_code in (200, 201), r.text
    credentials.cache(other).poll()
    with pytest.raises(Unauthorized):
        _verify(other, d, old)
    assert _verify(other, d, r.json()["secret"]).device_id == d


def test_a_device_with_its_new_secret_is_not_refused_before_the_poll(client, officer, other):
    d, old = _device(client, officer("caseworker"))
    _verify(other, d, old)
    r = client.post(f"/v1/devices/{d}/secret", headers=officer("caseworker"))
    assert r.status_code in (200, 201), r.text
    assert _verify(other, d, r.json()["secret"]).device_id == d  # refused by memory, so read again


def test_a_remembered_device_is_authenticated_without_a_database_read(client, officer, other):
    d, secret = _device(client, officer("caseworker"))
    _verify(other, d, secret)
    seen = _statements(other)
    for _ in range(5):
        _verify(other, d, secret)
    assert seen == []


def test_a_bad_signature_at_first_contact_costs_one_read_not_two(client, officer, other):
    d, secret = _device(client, officer("caseworker"))
    credentials.cache(other).poll()
    seen = _statements(other)
    with pytest.raises(Unauthorized):
        _verify(other, d, "0" * len(secret))
    reads = [q for q in seen if q.lstrip().upper().startswith("SELECT") and "device_changes" not in q]
    assert len(reads) == 1, reads


def test_the_order_start_follows_assignments_and_orders(client, officer, new_subject, new_order, other):
    cw = officer("caseworker")
    d, secret = _device(client, cw)
    assert _verify(other, d, secret).fixes_from is None  # assigned to nobody
    s = new_subject(cw)
    order = new_order(cw, s["id"], starts_at="2027-01-01T00:00:00Z")
    r = client.post(f"/v1/devices/{d}/assignments", json={"subject_id": s["id"], "starts_at": "2027-01-10T00:00:00Z"},
                    headers=cw)
    assert r.status_code == 201, r.text
    credentials.cache(other).poll()
    assert _verify(other, d, secret).fixes_from == datetime(2027, 1, 1, tzinfo=UTC)
    with other.engine.begin() as conn:  # any writer, even one outside the service layer
        conn.execute(sa.text("UPDATE orders SET starts_at = :t WHERE id = :id"),
                     {"t": datetime(2026, 6, 1, tzinfo=UTC), "id": uuid.UUID(order["id"]).hex
                      if other.engine.dialect.name == "sqlite" else uuid.UUID(order["id"])})
    assert credentials.cache(other).poll() == 1
    assert _verify(other, d, secret).fixes_from == datetime(2026, 6, 1, tzinfo=UTC)


def test_a_change_committed_out_of_id_order_is_still_seen(client, officer, other):
    """PostgreSQL hands out ids when transactions ask, not when they commit: a change may appear
    below the highest id a poll has already seen."""
    d, secret = _device(client, officer("caseworker"))
    e, _ = _device(client, officer("caseworker"), n=2)
    cache = credentials.cache(other)
    _verify(other, d, secret)
    table = credentials.DeviceChange.__table__
    with other.engine.begin() as conn:
        top = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
        conn.execute(sa.insert(table), [{"id": top + 10, "device_id": e}])
    cache.poll()
    with other.engine.begin() as conn:
        conn.execute(sa.insert(table), [{"id": top + 5, "device_id": d}])  # committed late, under the top
    assert cache.poll() == 1
    seen = _statements(other)
    _verify(other, d, secret)
    assert seen, "the device was forgotten, so it is read again"


def test_a_read_overtaken_by_a_poll_that_forgot_the_device_is_not_remembered(client, officer, other, monkeypatch):
    d, secret = _device(client, officer("caseworker"))
    cache = credentials.cache(other)
    cache.poll()
    read = cache._read

    def read_then_change(device_id):
        row = read(device_id)  # the old row; then the device changes and a poll sees it
        with other.engine.begin() as conn:
            conn.execute(sa.insert(credentials.DeviceChange.__table__), [{"device_id": device_id}])
        cache.poll()
        return row

    monkeypatch.setattr(cache, "_read", read_then_change)
    _verify(other, d, secret)
    monkeypatch.setattr(cache, "_read", read)
    seen = _statements(other)
    _verify(other, d, secret)
    assert seen, "what the overtaken read saw must not be served from memory"
