"""Demographic records: only with consent, only by the owning agency, withdrawn on request; audited."""

from __future__ import annotations

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry


def test_record_needs_consent_and_the_owning_agency_and_can_be_withdrawn(client, container, officer, new_subject):
    owner, other = officer("caseworker"), officer("caseworker", "other_office")
    sid = new_subject(owner)["id"]
    path = f"/v1/subjects/{sid}/demographics"
    body = {"attribute": "ethnicity", "value": "black", "consent": True}
    assert client.put(path, json={**body, "consent": False}, headers=owner).status_code == 422
    assert client.put(path, json=body, headers=other).status_code == 404
    assert client.put(path, json=body, headers=officer("reviewer")).status_code == 403
    assert client.put(path, json=body, headers=owner).status_code == 200
    assert client.get(path, headers=other).status_code == 404
    assert [r["value"] for r in client.get(path, headers=owner).json()] == ["black"]
    assert client.delete(f"{path}/ethnicity", headers=other).status_code == 404
    assert client.delete(f"{path}/ethnicity", headers=owner).status_code == 204
    assert client.get(path, headers=owner).json() == []
    with container.uow(Actor.system("test")) as uow:
        log = uow.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "demographic_record")
                                  .order_by(AuditEntry.seq)).all()
    assert log == ["create", "read", "delete", "read"]
