"""An order cannot be active without a necessity and proportionality record; early reviews."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import ORDER

NECESSITY = ORDER["necessity"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_order_without_a_necessity_record_cannot_be_activated(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    s = new_subject(cw)
    bare = {k: v for k, v in ORDER.items() if k != "necessity"}
    before = rows("orders"), rows("necessity_records")
    r = client.post(f"/v1/subjects/{s['id']}/orders", json=bare, headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "necessity", r.text
    assert (rows("orders"), rows("necessity_records")) == before  # nothing half-stored

    draft = new_order(cw, s["id"], status="draft", necessity=None)
    r = client.patch(f"/v1/orders/{draft['id']}", json={"status": "active"}, headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "necessity"
    assert client.get(f"/v1/orders/{draft['id']}", headers=cw).json()["status"] == "draft"
    weak = client.put(f"/v1/orders/{draft['id']}/necessity", json={**NECESSITY, "vulnerability_and_health": ""},
                      headers=cw)
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "vulnerability_and_health"
    assert client.put(f"/v1/orders/{draft['id']}/necessity", json=NECESSITY,
                      headers=officer("probation", "probation")).status_code == 403
    assert client.put(f"/v1/orders/{draft['id']}/necessity", json=NECESSITY, headers=cw).status_code == 200
    r = client.patch(f"/v1/orders/{draft['id']}", json={"status": "active"}, headers=cw)
    assert r.status_code == 200 and r.json()["status"] == "active"
    history = client.get(f"/v1/orders/{draft['id']}/necessity", headers=cw).json()
    assert [h["necessity"] for h in history] == [NECESSITY["necessity"]]
    # Created active with the record inline: it is kept.
    o = new_order(cw, s["id"])
    assert o["status"] == "active"
    history = client.get(f"/v1/orders/{o['id']}/necessity", headers=cw).json()
    assert len(history) == 1 and history[0]["proportionality"] == NECESSITY["proportionality"]


def test_medical_evidence_brings_the_review_forward_and_never_back(client, officer, new_subject, new_order, clock):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    assert _at(o["next_review_due"]) == _at("2027-04-01T00:00:00Z")
    r = client.post(f"/v1/orders/{o['id']}/early-review",
                    json={"trigger": "medical_evidence", "reason": "GP letter: new diagnosis of epilepsy"}, headers=cw)
    assert r.status_code == 201, r.text
    assert _at(r.json()["new_due"]) == clock.now() + timedelta(days=14)
    assert _at(r.json()["previous_due"]) == _at("2027-04-01T00:00:00Z")
    clock.advance(timedelta(days=10))
    cw = officer("caseworker")
    r = client.post(f"/v1/orders/{o['id']}/early-review",
                    json={"trigger": "representation", "reason": "letter from the person's solicitor"}, headers=cw)
    assert _at(r.json()["new_due"]) == _at(r.json()["previous_due"])  # already sooner: not pushed back
    order = client.get(f"/v1/orders/{o['id']}", headers=cw).json()
    assert _at(order["next_review_due"]) == _at("2027-01-29T12:00:00Z")
    triggers = client.get(f"/v1/orders/{o['id']}/review-triggers", headers=cw).json()
    assert [t["trigger"] for t in triggers] == ["medical_evidence", "representation"]
    assert all(t["reason"] for t in triggers)
