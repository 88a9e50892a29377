"""Devices: registration, barcode lookup, assignment rules, scoping, and signed device requests."""

import uuid
from datetime import timedelta

from custodes.devices.signing import signed_headers

PROBLEM = "application/problem+json"


def _device(client, headers, serial="TAG-0001", barcode="50000001", kind="ankle_tag"):
    r = client.post("/v1/devices", json={"kind": kind, "serial": serial, "barcode": barcode}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_register_lookup_and_status(client, officer):
    cw = officer("caseworker")
    d = _device(client, cw)
    assert d["status"] == "in_stock" and len(d["secret"]) >= 40 and d["secret_fingerprint"]
    got = client.get("/v1/devices/by-barcode/50000001", headers=cw).json()
    assert got["id"] == d["id"] and "secret" not in got
    assert client.get("/v1/devices/by-barcode/99999999", headers=cw).status_code == 404
    assert client.patch(f"/v1/devices/{d['id']}", json={"status": "faulty"}, headers=cw).json()["status"] == "faulty"
    r = client.patch(f"/v1/devices/{d['id']}", json={"status": "melted"}, headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    dup = client.post("/v1/devices", json={"kind": "smartwatch", "serial": "X-2", "barcode": "50000001"}, headers=cw)
    assert dup.status_code == 409 and dup.headers["content-type"].startswith(PROBLEM)
    listed = client.get("/v1/devices?status=faulty", headers=cw).json()
    assert listed["total"] == 1


def test_assignment_rules(client, officer, new_subject, rows):
    cw = officer("caseworker")
    s = new_subject(cw)
    d = _device(client, cw)
    body = {"subject_id": s["id"], "starts_at": "2027-01-10T00:00:00Z"}
    r = client.post(f"/v1/devices/{d['id']}/assignments", json=body, headers=cw)
    assert r.status_code == 201
    assert client.get(f"/v1/devices/{d['id']}", headers=cw).json()["status"] == "issued"
    again = client.post(f"/v1/devices/{d['id']}/assignments", json={**body, "starts_at": "2027-02-01T00:00:00Z"},
                        headers=cw)
    assert again.status_code == 409
    bad = client.post(f"/v1/devices/{d['id']}/assignments",
                      json={**body, "starts_at": "2027-03-01T00:00:00Z", "ends_at": "2027-02-01T00:00:00Z"}, headers=cw)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ends_at"
    assert client.get(f"/v1/assignments/{r.json()['id']}", headers=cw).json()["subject_id"] == s["id"]
    assert client.get(f"/v1/assignments/{r.json()['id']}", headers=officer("caseworker", "other_office")).status_code == 404
    end = client.post(f"/v1/assignments/{r.json()['id']}/end", json={"ends_at": "2027-01-20T00:00:00Z"}, headers=cw)
    assert end.status_code == 200
    assert client.get(f"/v1/devices/{d['id']}", headers=cw).json()["status"] == "returned"
    later = client.post(f"/v1/devices/{d['id']}/assignments", json={**body, "starts_at": "2027-01-21T00:00:00Z"},
                        headers=cw)
    assert later.status_code == 201
    assert len(client.get(f"/v1/subjects/{s['id']}/assignments", headers=cw).json()) == 2
    assert rows("assignments") == 2


def test_devices_are_scoped_to_their_agency(client, officer, new_subject):
    mine, theirs = officer("caseworker", "home_office"), officer("caseworker", "other_office")
    d = _device(client, mine)
    assert client.get(f"/v1/devices/{d['id']}", headers=theirs).status_code == 404
    assert client.get("/v1/devices/by-barcode/50000001", headers=theirs).status_code == 404
    # Nor can another agency's subject receive my device.
    s = new_subject(theirs)
    r = client.post(f"/v1/devices/{d['id']}/assignments", json={"subject_id": s["id"],
                    "starts_at": "2027-01-10T00:00:00Z"}, headers=mine)
    assert r.status_code == 404


def _ping(client, device_id, secret, clock, *, nonce=None, path_device=None, skew=timedelta(0)):
    path = f"/v1/devices/{path_device or device_id}/ping"
    headers = signed_headers(device_id, secret, "GET", path, b"", clock.now() + skew, nonce=nonce)
    return client.get(path, headers=headers)


def test_signed_device_requests(client, officer, clock):
    cw = officer("caseworker")
    d = _device(client, cw)
    other = _device(client, cw, serial="TAG-0002", barcode="50000002")
    ok = _ping(client, d["id"], d["secret"], clock, nonce="nonce-0001")
    assert ok.status_code == 200 and ok.json()["device_id"] == d["id"]
    replay = _ping(client, d["id"], d["secret"], clock, nonce="nonce-0001")
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]
    stale = _ping(client, d["id"], d["secret"], clock, skew=timedelta(minutes=-6))
    assert stale.status_code == 401 and "5 minutes" in stale.json()["detail"]
    future = _ping(client, d["id"], d["secret"], clock, skew=timedelta(minutes=6))
    assert future.status_code == 401
    forged = _ping(client, d["id"], other["secret"], clock)
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    # Properly signed by device A, but acting for device B.
    for_other = _ping(client, d["id"], d["secret"], clock, path_device=other["id"])
    assert for_other.status_code == 403
    unsigned = client.get(f"/v1/devices/{d['id']}/ping")
    assert unsigned.status_code == 401 and unsigned.headers["content-type"].startswith(PROBLEM)


def test_secret_rotation_retires_the_old_secret(client, officer, clock):
    cw = officer("caseworker")
    d = _device(client, cw)
    new = client.post(f"/v1/devices/{d['id']}/secret", headers=cw).json()
    assert new["secret"] != d["secret"] and new["secret_fingerprint"] != d["secret_fingerprint"]
    assert _ping(client, d["id"], d["secret"], clock).status_code == 401
    assert _ping(client, d["id"], new["secret"], clock).status_code == 200


def test_secret_is_not_stored_in_clear(container, client, officer):
    d = _device(client, officer("caseworker"))
    import sqlalchemy as sa

    with container.engine.connect() as conn:
        blob = conn.scalar(sa.text("SELECT secret_sealed FROM devices"))
    assert d["secret"].encode() not in bytes(blob)
    assert uuid.UUID(d["id"])
