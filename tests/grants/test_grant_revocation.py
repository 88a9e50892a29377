"""Revoking a live police trail grant: the owning agency's caseworker revokes it, or the officer who
asked withdraws it, with a reason; every read after that is refused and audited; the grant's history
shows each step and each read; the DPIA report counts the revocations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry
from custodes.reports import dpia
from custodes.retention import scheduled

from .test_trail_grants import _ask, _audit, _decide, _read


def _revoke(client, headers, grant_id, reason="the suspect was arrested; no longer needed"):
    return client.post(f"/v1/trail-grants/{grant_id}/revocation", json={"reason": reason}, headers=headers)


def _live_grant(client, container, enrolled, police, officer, load_trail):
    person = enrolled()
    t0 = load_trail(person)
    sign_in = police()
    pc, cw = sign_in(), officer("caseworker")
    start, end = t0 + timedelta(minutes=5), t0 + timedelta(minutes=25)
    grant = _ask(client, pc, person.subject_id, start, end, access_hours=24)
    assert _decide(client, cw, grant).json()["status"] == "approved"
    assert _read(client, pc, person.subject_id, start, end, grant).status_code == 200
    return person, pc, cw, grant, (start, end)


def test_a_caseworker_revokes_a_live_grant_and_later_reads_are_refused_and_audited(
        client, container, enrolled, police, officer, load_trail):
    person, pc, cw, grant, (start, end) = _live_grant(client, container, enrolled, police, officer, load_trail)
    r = _revoke(client, cw, grant)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "revoked" and body["revocation_reason"].startswith("the suspect was arrested")
    assert body["revoked_at"] and body["revoked_by"] != body["requested_by"]

    after = _read(client, pc, person.subject_id, start, end, grant)
    assert after.status_code == 403
    assert after.headers["content-type"].startswith("application/problem+json")
    assert after.json()["type"].endswith("trail-read-refused") and "revoked" in after.json()["detail"]
    refused = _audit(container, "refuse")
    assert len(refused) == 1 and refused[0].detail["grant_id"] == grant and "revoked" in refused[0].detail["reason"]
    assert len(_audit(container, "read")) == 1  # only the read made before the revocation
    with container.uow(Actor.system("test")) as uow:
        (decided,) = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "trail_grant", AuditEntry.target_id == grant, AuditEntry.action == "decide",
            AuditEntry.detail["revoked"].as_boolean().is_(True))).all()
    assert decided.detail["withdrawn"] is False and "arrested" in decided.detail["reason"]

    history = client.get(f"/v1/trail-grants/{grant}/history", headers=cw)
    assert history.status_code == 200, history.text
    steps = [(e["event"], e["reason"]) for e in history.json()]
    assert [s for s, _ in steps] == ["requested", "approved", "read", "revoked", "read_refused"]
    assert "arrested" in steps[3][1] and "revoked" in steps[4][1]
    assert client.get(f"/v1/trail-grants/{grant}/history", headers=pc).json() == history.json()
    assert client.get(f"/v1/trail-grants/{grant}/history", headers=officer("auditor")).status_code == 200

    with container.uow(Actor.system("test")) as uow:
        rep = dpia.build(uow.session, uow.clock.now(), scheduled.policy_of(container))
    assert rep["police_access"]["revocations"] == {"total": 1, "revoked_by_the_owning_agency": 1,
                                                   "withdrawn_by_the_officer": 0}
    assert rep["police_access"]["requests_by_purpose"]["suspected_breach"] == {"requested": 1, "revoked": 1}


def test_the_officer_who_asked_may_withdraw_it_and_nobody_else_may_end_it(
        client, container, enrolled, police, officer, load_trail):
    person, pc, cw, grant, (start, end) = _live_grant(client, container, enrolled, police, officer, load_trail)
    assert _revoke(client, police()(), grant).status_code == 404  # another officer's grant does not exist for them
    assert _revoke(client, officer("caseworker", "other_office"), grant).status_code == 404
    for role in ("probation", "reviewer", "auditor"):
        assert _revoke(client, officer(role), grant).status_code == 403
    assert _read(client, pc, person.subject_id, start, end, grant).status_code == 200  # still live
    short = _revoke(client, pc, grant, reason="")
    assert short.status_code == 422  # a reason is required
    r = _revoke(client, pc, grant, reason="enquiry closed")
    assert r.status_code == 200 and r.json()["revoked_by"] == r.json()["requested_by"]
    assert _read(client, pc, person.subject_id, start, end, grant).status_code == 403
    assert _revoke(client, cw, grant).status_code == 409  # once only
    events = [e["event"] for e in client.get(f"/v1/trail-grants/{grant}/history", headers=pc).json()]
    assert events == ["requested", "approved", "read", "read", "withdrawn", "read_refused"]
    with container.uow(Actor.system("test")) as uow:
        rep = dpia.build(uow.session, uow.clock.now(), scheduled.policy_of(container))
    assert rep["police_access"]["revocations"]["withdrawn_by_the_officer"] == 1


def test_only_a_live_grant_can_be_revoked(client, clock, container, enrolled, police, officer, load_trail):
    person = enrolled()
    t0 = load_trail(person)
    pc, cw = police()(), officer("caseworker")
    pending = _ask(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30))
    assert _revoke(client, cw, pending).status_code == 409
    refused = _ask(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30))
    _decide(client, cw, refused, approve=False)
    assert _revoke(client, cw, refused).status_code == 409
    expiring = _ask(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30), access_hours=1)
    _decide(client, cw, expiring)
    clock.advance(timedelta(hours=1))
    cw = officer("caseworker")  # the earlier sign-in has expired too
    r = _revoke(client, cw, expiring)
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    events = [e["event"] for e in client.get(f"/v1/trail-grants/{expiring}/history", headers=cw).json()]
    assert events == ["requested", "approved", "expired"]
    assert [e["event"] for e in client.get(f"/v1/trail-grants/{refused}/history", headers=cw).json()] == [
        "requested", "refused"]
