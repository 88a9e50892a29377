"""Police trail access: only an approved, unexpired grant for that subject, purpose and window opens a
trail; every refusal is audited; only the owning agency's caseworker decides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry
from custodes.grants.models import GrantStatus, TrailGrant
from custodes.grants.service import refusal

from .conftest import subject_name


def _ask(client, headers, subject_id, t_from, t_to, purpose="suspected_breach", **kw):
    body = {"subject_id": str(subject_id), "purpose": purpose, "justification": "curfew breach reported by CCTV",
            "window_from": t_from.isoformat(), "window_to": t_to.isoformat(), **kw}
    r = client.post("/v1/trail-grants", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    return r.json()["id"]


def _decide(client, headers, grant_id, approve=True):
    return client.post(f"/v1/trail-grants/{grant_id}/decision", json={"approve": approve, "reason": "proportionate"},
                       headers=headers)


def _read(client, headers, subject_id, t_from, t_to, grant_id=None, purpose="suspected_breach"):
    params = {"from": t_from.isoformat(), "to": t_to.isoformat(), "purpose": purpose,
              "purpose_detail": "ref CAD-123"}
    if grant_id:
        params["grant_id"] = grant_id
    return client.get(f"/v1/subjects/{subject_id}/trail", params=params, headers=headers)


def _audit(container, action):
    with container.uow(Actor.system("test")) as uow:
        return uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "trail",
                                                            AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)).all()


def test_police_find_a_subject_only_by_exact_name_and_birth_date_and_learn_only_id_and_agency(
        client, container, enrolled, police, agencies):
    person = enrolled()
    name, dob = subject_name(container, person.subject_id)
    pc = police()()
    r = client.post("/v1/trail-grants/subject-lookup", headers=pc,
                    json={"full_name": name, "date_of_birth": dob, "purpose": "lost_contact"})
    assert r.status_code == 200 and r.json() == [{"subject_id": str(person.subject_id),
                                                  "agency_id": str(agencies["home_office"])}]
    partial = client.post("/v1/trail-grants/subject-lookup", headers=pc,
                          json={"full_name": name[:-1] + "%", "date_of_birth": dob, "purpose": "lost_contact"})
    assert partial.json() == []
    assert client.get("/v1/subjects", headers=pc).status_code == 403
    assert client.get(f"/v1/subjects/{person.subject_id}", headers=pc).status_code == 403
    with container.uow(Actor.system("test")) as uow:
        lookups = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "list",
                                                               AuditEntry.target_type == "subject")).all()
    assert [e.purpose for e in lookups] == ["lost_contact", "lost_contact"]
    assert lookups[0].detail["ids"] == [str(person.subject_id)]


def test_a_read_under_the_grant_works_and_each_read_outside_it_is_refused_and_audited(
        client, clock, container, enrolled, police, officer, load_trail):
    person, other = enrolled(), enrolled()
    t0 = load_trail(person)
    load_trail(other)
    sign_in = police()
    pc, caseworker = sign_in(), officer("caseworker")
    start, end = t0 + timedelta(minutes=10), t0 + timedelta(minutes=20)
    grant = _ask(client, pc, person.subject_id, start, end, access_hours=2)
    assert _decide(client, caseworker, grant).json()["status"] == "approved"

    ok = _read(client, pc, person.subject_id, start, end, grant)
    assert ok.status_code == 200 and len(ok.json()["features"]) == 10
    reads = _audit(container, "read")
    assert [(e.purpose, e.detail["grant_id"], e.detail["role"]) for e in reads] == [
        ("suspected_breach", grant, "police")]

    refused = {
        "window": _read(client, pc, person.subject_id, t0, end, grant),
        "window_end": _read(client, pc, person.subject_id, start, end + timedelta(minutes=1), grant),
        "subject": _read(client, pc, other.subject_id, start, end, grant),
        "purpose": _read(client, pc, person.subject_id, start, end, grant, purpose="lost_contact"),
        "no grant": _read(client, pc, person.subject_id, start, end),
        "other officer": _read(client, police()(), person.subject_id, start, end, grant),
    }
    assert {k: r.status_code for k, r in refused.items()} == {k: 403 for k in refused}
    assert all(r.json()["type"].endswith("trail-read-refused") for r in refused.values())
    logged = _audit(container, "refuse")
    assert len(logged) == len(refused)
    assert [e.target_id for e in logged] == [str(person.subject_id)] * 2 + [str(other.subject_id)] + [
        str(person.subject_id)] * 3
    assert "outside the grant's window" in logged[0].detail["reason"]
    assert "another subject" in logged[2].detail["reason"]
    assert len(_audit(container, "read")) == 1  # nothing was read by the refused requests

    clock.advance(timedelta(hours=2))
    late = _read(client, sign_in(), person.subject_id, start, end, grant)
    assert late.status_code == 403 and "expired" in late.json()["detail"]
    assert "expired" in _audit(container, "refuse")[-1].detail["reason"]


def test_a_pending_or_refused_grant_gives_nothing(client, container, enrolled, police, officer, load_trail):
    person = enrolled()
    t0 = load_trail(person)
    pc = police()()
    pending = _ask(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30))
    r = _read(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30), pending)
    assert r.status_code == 403 and "pending" in r.json()["detail"]
    refused = _ask(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30))
    assert _decide(client, officer("caseworker"), refused, approve=False).json()["status"] == "refused"
    r = _read(client, pc, person.subject_id, t0, t0 + timedelta(minutes=30), refused)
    assert r.status_code == 403 and "refused" in r.json()["detail"]
    assert not _audit(container, "read") and len(_audit(container, "refuse")) == 2


def test_only_a_caseworker_of_the_owning_agency_decides_and_only_once(client, enrolled, police, officer):
    person = enrolled()
    pc = police()()
    now = datetime(2027, 1, 15, tzinfo=UTC)
    grant = _ask(client, pc, person.subject_id, now - timedelta(days=1), now)
    assert _decide(client, officer("caseworker", "other_office"), grant).status_code == 404
    assert _decide(client, officer("probation", "home_office"), grant).status_code == 403
    assert _decide(client, pc, grant).status_code == 403
    assert client.get(f"/v1/trail-grants/{grant}", headers=officer("caseworker", "other_office")).status_code == 404
    owner = officer("caseworker")
    assert [g["id"] for g in client.get("/v1/trail-grants", headers=owner).json()] == [grant]
    assert [g["id"] for g in client.get("/v1/trail-grants", headers=pc).json()] == [grant]
    assert client.get("/v1/trail-grants", headers=police()()).json() == []  # another officer's request
    assert client.get("/v1/trail-grants", headers=officer("caseworker", "other_office")).json() == []
    assert _decide(client, owner, grant, approve=False).status_code == 200
    assert _decide(client, owner, grant).status_code == 409


def test_a_request_must_name_its_purpose_and_crime_reference_and_a_bounded_window(client, enrolled, police):
    person = enrolled()
    pc = police()()
    now = datetime(2027, 1, 15, tzinfo=UTC)
    base = {"subject_id": str(person.subject_id), "justification": "investigation of burglary",
            "window_from": (now - timedelta(days=1)).isoformat(), "window_to": now.isoformat()}
    assert client.post("/v1/trail-grants", json={**base, "purpose": "curiosity"}, headers=pc).status_code == 422
    r = client.post("/v1/trail-grants", json={**base, "purpose": "offence_investigation"}, headers=pc)
    assert r.status_code == 422 and "crime reference" in r.json()["detail"]
    wide = {**base, "purpose": "lost_contact", "window_from": (now - timedelta(days=60)).isoformat()}
    assert client.post("/v1/trail-grants", json=wide, headers=pc).status_code == 422
    ok = client.post("/v1/trail-grants", json={**base, "purpose": "offence_investigation",
                                                "crime_reference": "CRN/2027/0042"}, headers=pc)
    assert ok.status_code == 201 and ok.json()["crime_reference"] == "CRN/2027/0042"
    ghost = client.post("/v1/trail-grants", json={**base, "purpose": "lost_contact",
                                                   "subject_id": str(uuid.uuid4())}, headers=pc)
    assert ghost.status_code == 404


def test_no_role_reads_a_trail_without_a_fixed_purpose_and_police_purposes_need_a_grant(
        client, enrolled, officer, load_trail):
    person = enrolled()
    t0 = load_trail(person)
    cw = officer("caseworker")
    t1 = t0 + timedelta(minutes=30)
    assert _read(client, cw, person.subject_id, t0, t1, purpose="because").status_code == 422
    assert _read(client, cw, person.subject_id, t0, t1, purpose="suspected_breach").status_code == 403
    assert _read(client, cw, person.subject_id, t0, t1, purpose="alert_triage").status_code == 200
    for role in ("auditor", "admin"):
        assert _read(client, officer(role), person.subject_id, t0, t1, purpose="alert_triage").status_code == 403


def _grant(**kw) -> TrailGrant:
    base = dict(subject_id=uuid.UUID(int=1), purpose="lost_contact", status=GrantStatus.APPROVED,
                window_from=datetime(2027, 1, 1, tzinfo=UTC), window_to=datetime(2027, 1, 2, tzinfo=UTC),
                expires_at=datetime(2027, 1, 10, tzinfo=UTC))
    return TrailGrant(**{**base, **kw})


def test_refusal_names_each_rule():
    now = datetime(2027, 1, 5, tzinfo=UTC)
    ask = dict(subject_id=uuid.UUID(int=1), purpose="lost_contact", t_from=datetime(2027, 1, 1, 6, tzinfo=UTC),
               t_to=datetime(2027, 1, 1, 18, tzinfo=UTC), now=now)
    assert refusal(_grant(), **ask) is None
    assert "another subject" in refusal(_grant(subject_id=uuid.UUID(int=2)), **ask)
    assert "pending" in refusal(_grant(status=GrantStatus.PENDING), **ask)
    assert "expired" in refusal(_grant(expires_at=now), **ask)
    assert "not lost_contact" in refusal(_grant(purpose="suspected_breach"), **ask)
    assert "window" in refusal(_grant(window_from=datetime(2027, 1, 1, 7, tzinfo=UTC)), **ask)
    assert "window" in refusal(_grant(window_to=datetime(2027, 1, 1, 17, tzinfo=UTC)), **ask)
