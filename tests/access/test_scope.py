"""Scoping rules that each change route must apply: a case shared with an agency is visible to it
but changed only by its owner. The requests come from a caseworker, a role that may change cases
of its own agency, so they reach the ownership rule rather than the role check."""

import uuid

import pytest
import sqlalchemy as sa

from custodes.actor import Actor
from custodes.alerts import service as alerts


def _zone(name="home"):
    return {"spec": {"kind": "zone", "name": name, "zone_type": "inclusion",
                     "geometry": {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51],
                                                                      [-0.1, 51.51], [-0.1, 51.5]]]}}}


@pytest.fixture
def shared_case(client, officer, new_subject, new_order, agencies):
    owner = officer("caseworker", "home_office")
    s = new_subject(owner)
    o = new_order(owner, s["id"])
    c = client.post(f"/v1/orders/{o['id']}/conditions", json=_zone(), headers=owner)
    assert c.status_code == 201, c.text
    for agency in ("other_office", "probation"):
        r = client.post(f"/v1/subjects/{s['id']}/shares", json={"agency_id": str(agencies[agency])}, headers=owner)
        assert r.status_code == 201
    sharer = officer("caseworker", "other_office")  # may change its own cases; only sees this one
    assert client.get(f"/v1/subjects/{s['id']}", headers=sharer).status_code == 200
    assert client.get(f"/v1/orders/{o['id']}", headers=sharer).status_code == 200
    assert client.get(f"/v1/conditions/{c.json()['id']}", headers=sharer).status_code == 200
    return {"owner": owner, "sharer": sharer, "subject": s["id"], "order": o["id"], "condition": c.json()["id"],
            "probation": str(agencies["probation"]), "other": str(agencies["other_office"])}


CHANGES = {
    "update subject": lambda c: ("PATCH", f"/v1/subjects/{c['subject']}", {"full_name": "Changed"}),
    "share": lambda c: ("POST", f"/v1/subjects/{c['subject']}/shares", {"agency_id": c["_police"]}),
    "unshare": lambda c: ("DELETE", f"/v1/subjects/{c['subject']}/shares/{c['probation']}", None),
    "new order": lambda c: ("POST", f"/v1/subjects/{c['subject']}/orders", c["_order"]),
    "update order": lambda c: ("PATCH", f"/v1/orders/{c['order']}", {"reviewed": True}),
    "add condition": lambda c: ("POST", f"/v1/orders/{c['order']}/conditions", _zone("work")),
    "replace condition": lambda c: ("PUT", f"/v1/conditions/{c['condition']}", _zone("flat")),
    "delete condition": lambda c: ("DELETE", f"/v1/conditions/{c['condition']}", None),
}


ORDER = {"legal_basis": "Immigration Act 2016, Schedule 10", "starts_at": "2027-02-01T00:00:00Z",
         "ends_at": "2027-06-30T00:00:00Z", "status": "active",
         "less_intrusive_options": [{"option": "weekly reporting", "reason_rejected": "absconded twice"}],
         "necessity": {"necessity": "absconded twice while on weekly reporting",
                       "proportionality": "curfew hours limited to nights",
                       "vulnerability_and_health": "screened at enrolment: none"}}


def _snapshot(container):
    with container.engine.connect() as conn:
        return [conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY id")).all()
                for t in ("subjects", "subject_shares", "orders", "conditions")]


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_only_the_owning_agency_changes_a_case(client, container, shared_case, agencies, change):
    ctx = {**shared_case, "_police": str(agencies["police"]), "_order": ORDER}
    method, path, body = CHANGES[change](ctx)
    before = _snapshot(container)
    r = client.request(method, path, json=body, headers=shared_case["sharer"])
    assert r.status_code == 404, r.text  # a case it may not change does not exist for it
    assert _snapshot(container) == before
    # The same request from the owner goes through: the refusal above was the ownership rule.
    ok = client.request(method, path, json=body, headers=shared_case["owner"])
    assert ok.status_code in (200, 201, 204), ok.text


def test_alert_resolve_and_acknowledge_are_scoped(client, container, officer, new_subject):
    owner = officer("caseworker")
    s = new_subject(owner)
    with container.uow(Actor.system("rules")) as uow:
        alert, _ = alerts.raise_alert(uow=uow, subject_id=uuid.UUID(s["id"]), kind="zone_exit",
                                      category="breach", severity="high", occurred_at=container.clock.now(),
                                      dedupe_key="zone:x", evidence={"lat": 51.5, "lon": -0.1})
        uow.commit()
    theirs = officer("caseworker", "other_office")  # a handler role, in an agency not shown this case
    body = {"outcome": "false_alarm", "reason": "not ours to judge"}
    assert client.post(f"/v1/alerts/{alert.id}/resolve", json=body, headers=theirs).status_code == 404
    assert client.post(f"/v1/alerts/{alert.id}/acknowledge", headers=theirs).status_code == 404
    with container.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT status FROM alerts")) == "open"
    assert client.post(f"/v1/alerts/{alert.id}/resolve", json=body, headers=owner).status_code == 200


def test_no_token_is_refused_before_anything_else(client, shared_case):
    r = client.get(f"/v1/subjects/{shared_case['subject']}")
    assert r.status_code == 401 and "bearer token is required" in r.json()["detail"]


def test_sharing_twice_with_the_same_agency_is_a_conflict(client, container, shared_case):
    before = _snapshot(container)
    r = client.post(f"/v1/subjects/{shared_case['subject']}/shares", json={"agency_id": shared_case["other"]},
                    headers=shared_case["owner"])
    assert r.status_code == 409, r.text
    assert _snapshot(container) == before


def test_an_unshared_agency_sees_no_order_or_condition_of_the_case(client, officer, shared_case):
    police = officer("caseworker", "police")  # the case is not shared with the police
    for path in (f"/v1/orders/{shared_case['order']}", f"/v1/orders/{shared_case['order']}/conditions",
                 f"/v1/conditions/{shared_case['condition']}", f"/v1/subjects/{shared_case['subject']}/orders"):
        assert client.get(path, headers=police).status_code == 404, path
        assert client.get(path, headers=shared_case["sharer"]).status_code == 200, path  # shared: visible


def test_unsharing_an_agency_the_case_is_not_shared_with_is_404(client, container, agencies, shared_case):
    before = _snapshot(container)
    r = client.delete(f"/v1/subjects/{shared_case['subject']}/shares/{agencies['police']}",
                      headers=shared_case["owner"])
    assert r.status_code == 404, r.text
    assert _snapshot(container) == before
