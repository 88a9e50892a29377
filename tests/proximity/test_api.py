"""Protected people and proximity conditions through the API: a caseworker registers a protected
person's own phone with their consent, puts a condition on an order, and the phone's OwnTracks
positions become a moving exclusion zone; scoping, the phone rules, consent withdrawal and audit."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.audit.models import AuditEntry
from custodes.lab.device_client import encode, fix
from custodes.orders.models import Order
from custodes.proximity.models import ProtectedPosition
from custodes.telemetry.pipeline import Pipeline
from tests.telemetry.conftest import HOME

VICTIM = (51.502713, -0.119871)  # ~300 m from the monitored person's home


def phone(client, headers) -> dict:
    r = client.post("/v1/devices", json={"kind": "phone", "serial": f"PH-{secrets.token_hex(4)}",
                                         "barcode": f"{secrets.randbelow(10**12):012d}"}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def register(client, headers, device_id, clock, **extra):
    return client.post("/v1/protected-people", headers=headers, json={
        "device_id": str(device_id), "consent_given_at": (clock.now() - timedelta(days=1)).isoformat(),
        "consent_note": "signed consent form, copy on the victim liaison file", **extra})


def order_of(container, subject_id):
    with container.uow(Actor.system("test")) as uow:
        return uow.session.scalars(select(Order.id).where(Order.subject_id == subject_id)).one()


def protected(client, headers, container, clock, person, radius_m=500.0):
    """A protected person with an OwnTracks phone, and a condition on `person`'s order."""
    device = phone(client, headers)
    r = register(client, headers, device["id"], clock)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    creds = client.put(f"/v1/devices/{device['id']}/adapter", json={"protocol": "owntracks"}, headers=headers).json()
    c = client.post(f"/v1/orders/{order_of(container, person.subject_id)}/proximity-conditions", headers=headers,
                    json={"protected_id": pid, "radius_m": radius_m})
    assert c.status_code == 201, c.text
    return pid, c.json(), creds


def owntracks(client, creds, at, where):
    auth = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    r = client.post("/v1/adapters/owntracks", headers={"Authorization": f"Basic {auth}"},
                    json={"_type": "location", "lat": where[0], "lon": where[1], "acc": 8, "tst": int(at.timestamp())})
    assert r.status_code == 200, r.text


def walk_home(client, clock, person, seq=1):
    t0 = clock.now() - timedelta(seconds=290)
    body = encode(seq, [fix(t0 + timedelta(seconds=10 * i), HOME[0], HOME[1], 5.0) for i in range(30)])
    assert client.post(person.client.path, content=body,
                       headers=person.client.http_headers(body, clock.now())).status_code == 202


def proximity_alerts(container) -> list[Alert]:
    with container.uow(Actor.system("test")) as uow:
        return list(uow.session.scalars(select(Alert).where(Alert.kind.like("proximity%"))))


def audit_count(container, target_type, action) -> int:
    with container.uow(Actor.system("test")) as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.target_type == target_type, AuditEntry.action == action))


def test_a_registered_phone_becomes_a_moving_zone_and_officers_see_the_condition_not_the_position(
        client, clock, container, person, officer):
    cw = officer("caseworker")
    pid, condition, creds = protected(client, cw, container, clock, person)
    for k in range(3):  # the protected person's phone, as the OwnTracks app sends it
        owntracks(client, creds, clock.now() - timedelta(seconds=100 - 40 * k), VICTIM)
    Pipeline(container).run_once()
    walk_home(client, clock, person)
    Pipeline(container).run_once()
    got = proximity_alerts(container)
    assert [a.kind for a in got] == ["proximity_entered"]
    assert got[0].evidence["distance_m"] < 500
    order = order_of(container, person.subject_id)
    for headers in (cw, officer("reviewer"), officer("probation")):
        listed = client.get(f"/v1/orders/{order}/proximity-conditions", headers=headers)
        assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [condition["id"]]
        seen = client.get(f"/v1/protected-people/{pid}", headers=headers)
        assert seen.status_code == 200 and seen.json()["consent_withdrawn_at"] is None
        assert f"{VICTIM[0]:.4f}" not in listed.text + seen.text
    assert audit_count(container, "protected_person", "read") == 3  # each read of the record is audited
    assert audit_count(container, "proximity_condition", "list") == 3
    assert client.get("/v1/protected-people", headers=cw).json()["total"] == 1


def test_another_agency_sees_and_touches_nothing(client, clock, container, person, officer):
    cw, other = officer("caseworker"), officer("caseworker", "other_office")
    pid, condition, _ = protected(client, cw, container, clock, person)
    order = order_of(container, person.subject_id)
    assert client.get(f"/v1/protected-people/{pid}", headers=other).status_code == 404
    assert client.get("/v1/protected-people", headers=other).json()["total"] == 0
    assert client.post(f"/v1/protected-people/{pid}/consent-withdrawal", headers=other,
                       json={"note": "phoned in"}).status_code == 404
    assert client.get(f"/v1/orders/{order}/proximity-conditions", headers=other).status_code == 404
    assert client.delete(f"/v1/proximity-conditions/{condition['id']}", headers=other).status_code == 404
    # Another agency's phone cannot be registered, nor its protected person named on an order.
    theirs = phone(client, other)
    assert register(client, cw, theirs["id"], clock).status_code == 404
    their_pid = register(client, other, theirs["id"], clock).json()["id"]
    r = client.post(f"/v1/orders/{order}/proximity-conditions", headers=cw,
                    json={"protected_id": their_pid, "radius_m": 300})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/v1/orders/{order}/proximity-conditions", headers=cw).json() == [condition]


def test_roles_police_and_auditors_have_no_route_and_only_caseworkers_write(client, clock, container, person,
                                                                           officer):
    cw = officer("caseworker")
    pid, condition, _ = protected(client, cw, container, clock, person)
    order = order_of(container, person.subject_id)
    for role in ("police", "auditor", "admin"):
        headers = officer(role)
        assert client.get(f"/v1/protected-people/{pid}", headers=headers).status_code == 403
        assert client.get("/v1/protected-people", headers=headers).status_code == 403
        assert client.get(f"/v1/orders/{order}/proximity-conditions", headers=headers).status_code == 403
    for role in ("reviewer", "probation", "police"):
        headers = officer(role)
        assert client.delete(f"/v1/proximity-conditions/{condition['id']}", headers=headers).status_code == 403
        assert client.post(f"/v1/orders/{order}/proximity-conditions", headers=headers,
                           json={"protected_id": pid, "radius_m": 300}).status_code == 403
    assert client.delete(f"/v1/proximity-conditions/{condition['id']}", headers=cw).status_code == 204
    assert client.get(f"/v1/orders/{order}/proximity-conditions", headers=cw).json() == []


def test_a_protected_phone_is_worn_by_nobody_and_registered_once(client, clock, container, person, officer):
    cw = officer("caseworker")
    device = phone(client, cw)
    assert register(client, cw, device["id"], clock, consent_given_at=(clock.now() + timedelta(hours=1)
                                                                        ).isoformat()).status_code == 409
    assert register(client, cw, device["id"], clock).status_code == 201
    assert register(client, cw, device["id"], clock).status_code == 409  # one protected person per phone
    # A protected phone cannot be assigned to a monitored person: its fixes feed no trail.
    r = client.post(f"/v1/devices/{device['id']}/assignments", headers=cw,
                    json={"subject_id": str(person.subject_id), "starts_at": clock.now().isoformat()})
    assert r.status_code == 409, r.text
    # Nor can a tag (a device that is not a phone), or a phone a monitored person wears.
    assert register(client, cw, person.device_id, clock).status_code == 409
    tag = client.post("/v1/devices", json={"kind": "ankle_tag", "serial": f"AT-{secrets.token_hex(4)}",
                                           "barcode": f"{secrets.randbelow(10**12):012d}"}, headers=cw).json()
    assert register(client, cw, tag["id"], clock).status_code == 409  # in stock, worn by nobody, not a phone
    worn = phone(client, cw)
    r = client.post(f"/v1/devices/{worn['id']}/assignments", headers=cw,
                    json={"subject_id": str(person.subject_id), "starts_at": clock.now().isoformat()})
    assert r.status_code == 201, r.text
    assert register(client, cw, worn["id"], clock).status_code == 409  # a phone worn by a monitored person
    assert client.get("/v1/protected-people", headers=cw).json()["total"] == 1


def test_a_condition_is_set_once_and_within_bounds(client, clock, container, person, officer):
    cw = officer("caseworker")
    pid, _, _ = protected(client, cw, container, clock, person)
    order = order_of(container, person.subject_id)
    again = client.post(f"/v1/orders/{order}/proximity-conditions", headers=cw,
                        json={"protected_id": pid, "radius_m": 800})
    assert again.status_code == 409, again.text
    for bad in ({"radius_m": 5}, {"radius_m": float("inf")}, {"radius_m": 300, "max_skew_s": 7200}, {}):
        r = client.post(f"/v1/orders/{order}/proximity-conditions", headers={**cw, "content-type": "application/json"},
                        content=json.dumps({"protected_id": pid, **bad}))
        assert r.status_code == 422, (bad, r.text)
    assert len(client.get(f"/v1/orders/{order}/proximity-conditions", headers=cw).json()) == 1


def test_withdrawn_consent_deletes_the_position_and_stops_the_rule(client, clock, container, person, officer):
    cw = officer("caseworker")
    pid, condition, creds = protected(client, cw, container, clock, person)
    owntracks(client, creds, clock.now() - timedelta(seconds=60), VICTIM)
    Pipeline(container).run_once()
    with container.uow(Actor.system("test")) as uow:
        assert uow.session.get(ProtectedPosition, uuid.UUID(pid)) is not None
    r = client.post(f"/v1/protected-people/{pid}/consent-withdrawal", headers=cw, json={"note": "phoned the unit"})
    assert r.status_code == 200 and r.json()["consent_withdrawn_at"] is not None
    with container.uow(Actor.system("test")) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProtectedPosition)) == 0
    assert audit_count(container, "protected_position", "delete") == 1
    assert client.post(f"/v1/protected-people/{pid}/consent-withdrawal", headers=cw,
                       json={"note": "again"}).status_code == 409
    owntracks(client, creds, clock.now() - timedelta(seconds=30), VICTIM)  # the app still sends: kept nowhere
    Pipeline(container).run_once()
    walk_home(client, clock, person)
    Pipeline(container).run_once()
    assert proximity_alerts(container) == []
    with container.uow(Actor.system("test")) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProtectedPosition)) == 0
    # No new condition may name them (the old one removed first, so only the consent refuses it).
    assert client.delete(f"/v1/proximity-conditions/{condition['id']}", headers=cw).status_code == 204
    order = order_of(container, person.subject_id)
    r = client.post(f"/v1/orders/{order}/proximity-conditions", headers=cw, json={"protected_id": pid, "radius_m": 300})
    assert r.status_code == 409 and "withdrawn" in r.json()["detail"], r.text


def test_a_late_batch_does_not_raise_an_approach_again(client, clock, container, person, officer):
    """A replay cannot judge proximity (only the newest protected position is kept), so it must keep
    the approach already judged, not forget it and raise it a second time at the next fix."""
    cw = officer("caseworker")
    _, _, creds = protected(client, cw, container, clock, person)
    for k in range(3):
        owntracks(client, creds, clock.now() - timedelta(seconds=100 - 40 * k), VICTIM)
    Pipeline(container).run_once()
    walk_home(client, clock, person, seq=1)
    Pipeline(container).run_once()
    assert [a.kind for a in proximity_alerts(container)] == ["proximity_entered"]
    # Fixes from two hours ago arrive now: the subject is judged again from before them.
    t0 = clock.now() - timedelta(hours=2)
    body = encode(2, [fix(t0 + timedelta(seconds=60 * i), HOME[0], HOME[1], 5.0) for i in range(10)])
    assert client.post(person.client.path, content=body,
                       headers=person.client.http_headers(body, clock.now())).status_code == 202
    Pipeline(container).run_once()
    clock.advance(timedelta(minutes=10))  # then fresh fixes, still beside the protected person
    owntracks(client, creds, clock.now() - timedelta(seconds=20), VICTIM)
    Pipeline(container).run_once()
    walk_home(client, clock, person, seq=3)
    Pipeline(container).run_once()
    got = proximity_alerts(container)
    assert [a.kind for a in got] == ["proximity_entered"], [(a.kind, a.occurred_at) for a in got]
