"""Alerts: idempotent raising with an outbox message, lifecycle, audit and scoping."""

import uuid

import sqlalchemy as sa

from custodes.actor import Actor
from custodes.alerts import service


def _raise(container, subject_id, key="curfew:abc:2027-01-15", kind="curfew_breach"):
    with container.uow(Actor.system("rules")) as uow:
        alert, created = service.raise_alert(
            uow=uow, subject_id=uuid.UUID(subject_id), kind=kind, category="breach", severity="high",
            occurred_at=container.clock.now(), dedupe_key=key, evidence={"fix_ids": [1, 2]})
        uow.commit()
    return alert, created


def test_raising_is_idempotent_by_dedupe_key(container, officer, new_subject, rows):
    s = new_subject(officer("caseworker"))
    a1, c1 = _raise(container, s["id"])
    a2, c2 = _raise(container, s["id"])
    assert c1 and not c2 and a1.id == a2.id
    assert rows("alerts") == 1
    with container.engine.connect() as conn:
        topics = conn.scalars(sa.text("SELECT topic FROM outbox")).all()
    assert topics == ["alert.raised"]


def test_lifecycle_with_outcome_and_reason(client, container, officer, new_subject):
    cw = officer("caseworker")
    s = new_subject(cw)
    alert, _ = _raise(container, s["id"])
    listed = client.get("/v1/alerts?status=open", headers=cw).json()
    assert listed["total"] == 1 and listed["items"][0]["evidence"] == {"fix_ids": [1, 2]}
    ack = client.post(f"/v1/alerts/{alert.id}/acknowledge", headers=cw)
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert client.post(f"/v1/alerts/{alert.id}/acknowledge", headers=cw).status_code == 409
    no_reason = client.post(f"/v1/alerts/{alert.id}/resolve", json={"outcome": "false_alarm"}, headers=cw)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    bad_outcome = client.post(f"/v1/alerts/{alert.id}/resolve", json={"outcome": "jailed", "reason": "x" * 5},
                              headers=cw)
    assert bad_outcome.status_code == 422
    done = client.post(f"/v1/alerts/{alert.id}/resolve",
                       json={"outcome": "device_fault", "reason": "GPS drift near tower block"}, headers=cw)
    assert done.status_code == 200 and done.json()["outcome"] == "device_fault"
    with container.engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT action FROM audit_entries WHERE target_type = 'alert' ORDER BY seq")).scalars().all()
    assert actions == ["create", "read", "update", "update"]  # the list page was a read


def test_alerts_are_scoped(client, container, officer, new_subject):
    s = new_subject(officer("caseworker"))
    alert, _ = _raise(container, s["id"])
    theirs = officer("caseworker", "other_office")
    assert client.get("/v1/alerts", headers=theirs).json()["total"] == 0
    assert client.get(f"/v1/alerts/{alert.id}", headers=theirs).status_code == 404
    assert client.post(f"/v1/alerts/{alert.id}/acknowledge", headers=theirs).status_code == 404


def test_a_resolved_alert_is_not_resolved_again(client, container, officer, new_subject):
    cw = officer("caseworker")
    alert, _ = _raise(container, new_subject(cw)["id"])
    body = {"outcome": "device_fault", "reason": "GPS drift near tower block"}
    assert client.post(f"/v1/alerts/{alert.id}/resolve", json=body, headers=cw).status_code == 200
    again = client.post(f"/v1/alerts/{alert.id}/resolve", json={"outcome": "false_alarm", "reason": "overwrite it"},
                        headers=cw)
    assert again.status_code == 409
    assert client.get(f"/v1/alerts/{alert.id}", headers=cw).json()["outcome"] == "device_fault"
