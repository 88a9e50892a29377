"""Legal holds through the API: the owning agency places and lifts them with a named reason, each
audited; auditors see what is due and the receipts."""

from __future__ import annotations

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry
from custodes.retention import scheduled


def test_only_the_owning_agency_places_and_lifts_a_hold_and_both_are_audited(client, container, officer,
                                                                                person_ending):
    p = person_ending(3 * 365)
    owner, other = officer("caseworker"), officer("caseworker", "other_office")
    path = f"/v1/subjects/{p.subject_id}/legal-holds"
    body = {"data_class": "trail", "reason": "Crown Court case T20270001"}
    assert client.post(path, json=body, headers=other).status_code == 404
    assert client.post(path, json=body, headers=officer("auditor")).status_code == 403
    assert client.post(path, json={"reason": "x"}, headers=owner).status_code == 422
    r = client.post(path, json=body, headers=owner)
    assert r.status_code == 201 and r.json()["data_class"] == "trail"
    hold_id = r.json()["id"]
    assert client.get(path, headers=other).status_code == 404
    assert [h["id"] for h in client.get(path, headers=owner).json()] == [hold_id]
    due = client.get("/v1/retention/due", headers=officer("auditor")).json()
    trail = [d for d in due if d["data_class"] == "trail"]
    assert trail[0]["held_by"] == [hold_id] and trail[0]["records"] == 20

    lift = {"reason": "proceedings concluded"}
    assert client.post(f"/v1/legal-holds/{hold_id}/lift", json=lift, headers=other).status_code == 404
    assert client.post(f"/v1/legal-holds/{hold_id}/lift", json=lift, headers=owner).status_code == 200
    assert client.post(f"/v1/legal-holds/{hold_id}/lift", json=lift, headers=owner).status_code == 409
    with container.uow(Actor.system("test")) as uow:
        log = uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "legal_hold")
                                  .order_by(AuditEntry.seq)).all()
    assert [(e.action, e.target_id) for e in log] == [("create", hold_id), ("update", hold_id)]
    assert "lifted_at" in log[1].detail["fields"]

    scheduled.run(container)
    receipts = client.get("/v1/retention/receipts", params={"subject_id": str(p.subject_id)},
                          headers=officer("auditor")).json()
    assert {(r["data_class"], r["records"]) for r in receipts} >= {("trail", 20), ("subject_record", 1)}
    assert set(receipts[0]) == {"id", "run_id", "data_class", "subject_id", "records", "policy", "due_at",
                                "started_at", "completed_at"}  # no personal data beyond the subject id
    assert client.get("/v1/retention/receipts", headers=owner).status_code == 403
