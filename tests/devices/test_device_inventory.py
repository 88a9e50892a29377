"""Device inventory: every state change has a history row; a scanned return needs a confirmation."""

import sqlalchemy as sa

PROBLEM = "application/problem+json"


def _device(client, headers, serial="TAG-0100", barcode="50000100"):
    r = client.post("/v1/devices", json={"kind": "ankle_tag", "serial": serial, "barcode": barcode}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _issued(client, cw, subject_id, **kw):
    d = _device(client, cw, **kw)
    r = client.post(f"/v1/devices/{d['id']}/assignments",
                    json={"subject_id": subject_id, "starts_at": "2027-01-10T00:00:00Z"}, headers=cw)
    assert r.status_code == 201, r.text
    return d, r.json()


def test_history_records_each_state_change_with_who_and_why(client, officer, new_subject):
    cw = officer("caseworker")
    d, _ = _issued(client, cw, new_subject(cw)["id"])
    r = client.patch(f"/v1/devices/{d['id']}", json={"status": "lost", "reason": "subject reports it stolen"},
                     headers=cw)
    assert r.status_code == 200
    hist = client.get(f"/v1/devices/{d['id']}/history", headers=cw).json()
    assert sorted((h["from_status"] or "", h["to_status"]) for h in hist) == [
        ("", "in_stock"), ("in_stock", "issued"), ("issued", "lost")]
    lost = next(h for h in hist if h["to_status"] == "lost")
    assert lost["reason"] == "subject reports it stolen" and lost["actor_name"].startswith("caseworker")
    assert client.get(f"/v1/devices/{d['id']}/history",
                      headers=officer("caseworker", "other_office")).status_code == 404


def test_scanning_a_return_changes_nothing_until_confirmed(client, container, officer, new_subject, rows):
    cw = officer("caseworker")
    s = new_subject(cw)
    d, a = _issued(client, cw, s["id"])
    preview = client.post("/v1/device-returns", json={"barcode": d["barcode"]}, headers=cw)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert not p["done"] and p["subject_name"] == "Jan Kowalski" and p["assignment"]["id"] == a["id"]
    assert "Confirm" in p["message"]
    assert client.get(f"/v1/assignments/{a['id']}", headers=cw).json()["ends_at"] is None
    assert client.get(f"/v1/devices/{d['id']}", headers=cw).json()["status"] == "issued"
    events_before = rows("device_events")
    done = client.post("/v1/device-returns", json={"barcode": d["barcode"], "confirm": True}, headers=cw).json()
    assert done["done"] and "ended" in done["message"]
    assert client.get(f"/v1/assignments/{a['id']}", headers=cw).json()["ends_at"] is not None
    assert client.get(f"/v1/devices/{d['id']}", headers=cw).json()["status"] == "returned"
    assert rows("device_events") == events_before + 1
    with container.engine.connect() as conn:
        targets = conn.scalars(sa.text("SELECT target_type FROM audit_entries WHERE action = 'update'")).all()
    assert "assignment" in targets and "device" in targets
    twice = client.post("/v1/device-returns", json={"barcode": d["barcode"], "confirm": True}, headers=cw)
    assert twice.status_code == 409 and twice.headers["content-type"].startswith(PROBLEM)


def test_a_faulty_return_and_unknown_or_foreign_barcodes(client, officer, new_subject):
    cw = officer("caseworker")
    d, _ = _issued(client, cw, new_subject(cw)["id"])
    other = officer("caseworker", "other_office")
    assert client.post("/v1/device-returns", json={"barcode": d["barcode"], "confirm": True},
                       headers=other).status_code == 404
    assert client.post("/v1/device-returns", json={"barcode": "77777777"}, headers=cw).status_code == 404
    bad = client.post("/v1/device-returns", json={"barcode": "no spaces"}, headers=cw)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "barcode"
    r = client.post("/v1/device-returns", json={"barcode": d["barcode"], "confirm": True, "faulty": True,
                                                "reason": "strap cut"}, headers=cw).json()
    assert r["done"] and r["device"]["status"] == "faulty"
    hist = client.get(f"/v1/devices/{d['id']}/history", headers=cw).json()
    assert next(h for h in hist if h["to_status"] == "faulty")["reason"] == "strap cut"
