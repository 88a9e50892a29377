"""In-person reporting, the non-biometric alternative: a caseworker moves the person with a reason,
staff scan the wristband and confirm them, and the scan is the check-in (never a missed one)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from custodes.checkins.scheduled import ALERT_MISSED, sweep


def _wristband(client, cw, subject_id) -> dict:
    r = client.post("/v1/devices", json={"kind": "wristband", "serial": f"WB-{random.randrange(10**6)}",
                                         "barcode": f"{random.randrange(10**9, 10**10)}"}, headers=cw)
    assert r.status_code == 201, r.text
    band = r.json()
    r = client.post(f"/v1/devices/{band['id']}/assignments",
                    json={"subject_id": subject_id, "starts_at": "2027-01-01T00:00:00Z"}, headers=cw)
    assert r.status_code == 201, r.text
    return band


def _prompts(container, subject_id) -> list[dict]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, method, status, opens_at, closes_at, outcome FROM checkin_prompts "
                                    "WHERE subject_id = :s ORDER BY opens_at"),
                            {"s": subject_id.replace("-", "") if container.engine.dialect.name == "sqlite"
                             else subject_id}).mappings().all()
    return [dict(r) for r in rows]


def _missed(client, headers, subject_id) -> list[dict]:
    return client.get("/v1/alerts", params={"kind": ALERT_MISSED, "subject_id": subject_id},
                      headers=headers).json()["items"]


def test_a_wristband_scan_records_an_in_person_check_in(client, officer, case, device, container, clock):
    cw = officer("caseworker")
    sweep(container)  # today's face prompts are drawn before the move
    faces_before = [p for p in _prompts(container, case.subject_id) if p["method"] == "face"]
    assert faces_before
    # The draw covers yesterday too, so prompts that closed before the test's noon are missed already.
    missed_before = {a["id"] for a in _missed(client, cw, case.subject_id)}
    r = client.post(f"/v1/subjects/{case.subject_id}/in-person",
                    json={"grounds": "medical", "reason": "facial injury; photo check-ins cannot be used for now"},
                    headers=cw)
    assert r.status_code == 201, r.text
    assert r.json()["window_start"] == "09:00" and r.json()["evidence"] == {"failures_to_acquire_last_30_days": 0}
    assert client.post(f"/v1/subjects/{case.subject_id}/in-person", json={"grounds": "medical", "reason": "again"},
                       headers=cw).status_code == 409
    prompts = _prompts(container, case.subject_id)
    later_faces = [p for p in prompts if p["method"] == "face" and p["status"] != "missed"]
    assert later_faces and all(p["status"] == "withdrawn" for p in later_faces)
    assert device("GET", "/pending").json()["prompt"] is None  # the watch no longer asks for a face
    [today] = [p for p in prompts if p["method"] == "in_person"]
    assert today["status"] == "pending"

    band = _wristband(client, cw, case.subject_id)
    staff = officer("caseworker")
    looked = client.post("/v1/reporting/lookup", json={"barcode": band["barcode"]}, headers=staff)
    assert looked.status_code == 200, looked.text
    assert looked.json()["full_name"] == "Jan Kowalski" and looked.json()["requirement_open"] is True
    assert client.post("/v1/reporting/lookup", json={"barcode": band["barcode"]},
                       headers=officer("caseworker", "other_office")).status_code == 404
    assert client.post("/v1/reporting/lookup", json={"barcode": band["barcode"]},
                       headers=officer("reviewer", "monitoring")).status_code == 403
    wrong = client.post("/v1/reporting/reports", json={"barcode": band["barcode"], "centre": "Croydon",
                                                        "subject_id": case.order_id}, headers=staff)
    assert wrong.status_code == 409  # the person confirmed must be the wristband's wearer
    r = client.post("/v1/reporting/reports", json={"barcode": band["barcode"], "subject_id": case.subject_id,
                                                   "centre": "Croydon reporting centre"}, headers=staff)
    assert r.status_code == 201, r.text
    assert uuid.UUID(r.json()["prompt_id"]) == uuid.UUID(str(today["id"]))
    [reported] = [p for p in _prompts(container, case.subject_id) if p["method"] == "in_person"]
    assert reported["status"] == "reported" and reported["outcome"] is None  # a human's, not the machine's

    with container.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, target_type, purpose FROM audit_entries "
                                       "WHERE target_type IN ('in_person_report', 'in_person_arrangement', 'subject', "
                                       "'check_in') ORDER BY seq")).all()
    assert ("create", "in_person_arrangement", None) in actions
    assert ("create", "in_person_report", None) in actions
    assert ("update", "check_in", None) in actions
    assert any(a == "read" and t == "subject" and p and "wristband" in p for a, t, p in actions)

    # After the window closes the sweep finds nothing missed; the next day, unreported, is missed.
    clock.set(datetime.fromisoformat("2027-01-15T18:00:00+00:00"))
    sweep(container)
    assert {a["id"] for a in _missed(client, officer("caseworker"), case.subject_id)} == missed_before
    clock.set(datetime.fromisoformat("2027-01-16T08:00:00+00:00"))
    sweep(container)
    clock.advance(timedelta(hours=10))  # 18:00, the window (09:00-17:00 London) has closed
    sweep(container)
    missed = [a for a in _missed(client, officer("caseworker"), case.subject_id) if a["id"] not in missed_before]
    assert len(missed) == 1 and missed[0]["occurred_at"].startswith("2027-01-16T17:00")
    # Every other face prompt of the day was withdrawn, none of them missed.
    assert not any(p["method"] == "face" and p["status"] == "pending"
                   for p in _prompts(container, case.subject_id))


def test_a_scan_answers_an_open_face_prompt_too(client, officer, case, open_prompt, container, clock):
    prompt = open_prompt()  # a face prompt open now, not moved to in-person reporting
    cw = officer("caseworker")  # signed in after the clock moved
    band = _wristband(client, cw, case.subject_id)
    r = client.post("/v1/reporting/reports", json={"barcode": band["barcode"], "subject_id": case.subject_id,
                                                   "centre": "Solihull"}, headers=officer("probation", "probation"))
    # Probation does not see this case unless it is shared with them.
    assert r.status_code == 404
    r = client.post("/v1/reporting/reports", json={"barcode": band["barcode"], "subject_id": case.subject_id,
                                                   "centre": "Solihull"}, headers=cw)
    assert r.status_code == 201 and r.json()["prompt_id"] == prompt["prompt_id"]
    clock.set(datetime.fromisoformat(prompt["deadline"].replace("Z", "+00:00")) + timedelta(minutes=1))
    sweep(container)
    missed = _missed(client, officer("caseworker"), case.subject_id)
    assert prompt["prompt_id"] not in {a["evidence"]["prompt_id"] for a in missed}
    assert [p["status"] for p in _prompts(container, case.subject_id)
            if str(p["id"]).replace("-", "") == prompt["prompt_id"].replace("-", "")] == ["reported"]
