"""Reads of sensitive records and deletes are in the audit log, each checked through the API."""

import uuid

import sqlalchemy as sa

from custodes.actor import Actor, Role
from custodes.alerts import service as alerts
from custodes.alerts.models import Alert

SQUARE = [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.51], [-0.1, 51.5]]]
ZONE = {"spec": {"kind": "zone", "name": "home", "zone_type": "inclusion",
                 "geometry": {"type": "Polygon", "coordinates": SQUARE}}}


def _entries(container, target_type, action=None):
    q = "SELECT action, target_id, actor_name FROM audit_entries WHERE target_type = :t"
    if action:
        q += " AND action = :a"
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(q + " ORDER BY seq"), {"t": target_type, "a": action})]


def test_reading_an_order_is_audited(client, container, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    assert _entries(container, "order", "read") == []
    assert client.get(f"/v1/orders/{o['id']}", headers=cw).status_code == 200
    reads = _entries(container, "order", "read")
    assert [(a, t) for a, t, _ in reads] == [("read", o["id"])] and reads[0][2].startswith("caseworker")


def test_listing_orders_and_conditions_is_audited(client, container, officer, new_subject, new_order):
    cw = officer("caseworker")
    s = new_subject(cw)
    o = new_order(cw, s["id"])
    client.get(f"/v1/subjects/{s['id']}/orders", headers=cw)
    client.get(f"/v1/orders/{o['id']}/conditions", headers=cw)
    assert [a for a, _, _ in _entries(container, "order", "list")] == ["list"]
    assert [a for a, _, _ in _entries(container, "condition", "list")] == ["list"]


def test_unsharing_is_audited_as_a_delete(client, container, officer, new_subject, agencies):
    cw = officer("caseworker")
    s = new_subject(cw)
    share = client.post(f"/v1/subjects/{s['id']}/shares", json={"agency_id": str(agencies["probation"])}, headers=cw)
    assert share.status_code == 201
    assert client.delete(f"/v1/subjects/{s['id']}/shares/{agencies['probation']}", headers=cw).status_code == 204
    deletes = _entries(container, "subject_share", "delete")
    assert [(a, t) for a, t, _ in deletes] == [("delete", share.json()["id"])]


def test_deleting_a_condition_is_audited(client, container, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    c = client.post(f"/v1/orders/{o['id']}/conditions", json=ZONE, headers=cw).json()
    assert client.delete(f"/v1/conditions/{c['id']}", headers=cw).status_code == 204
    assert [(a, t) for a, t, _ in _entries(container, "condition", "delete")] == [("delete", c["id"])]


def _zone_alert(container, subject_id, key):
    with container.uow(Actor.system("rules")) as uow:
        alert, _ = alerts.raise_alert(uow=uow, subject_id=uuid.UUID(subject_id), kind="zone_exit",
                                      category="breach", severity="high", occurred_at=container.clock.now(),
                                      dedupe_key=key, evidence={"lat": 51.5012, "lon": -0.0951})
        uow.commit()
    return str(alert.id)


def test_every_alert_an_officer_reads_is_audited(client, container, officer, new_subject):
    cw = officer("caseworker")
    s = new_subject(cw)
    a1, a2 = _zone_alert(container, s["id"], "z1"), _zone_alert(container, s["id"], "z2")
    assert _entries(container, "alert", "read") == []  # the pipeline raising them is not a person reading
    assert client.get(f"/v1/alerts/{a1}", headers=cw).status_code == 200
    assert [t for _, t, _ in _entries(container, "alert", "read")] == [a1]
    assert client.get("/v1/alerts", headers=cw).json()["total"] == 2
    assert sorted(t for _, t, _ in _entries(container, "alert", "read")[1:]) == sorted([a1, a2])
    # Handling an alert is recorded as its update, not as a read besides.
    client.post(f"/v1/alerts/{a2}/acknowledge", headers=cw)
    assert [a for a, t, _ in _entries(container, "alert") if t == a2][-1] == "update"
    assert len(_entries(container, "alert", "read")) == 3


def test_a_use_case_that_forgets_to_commit_still_records_the_reads(container, officer, new_subject, agencies):
    s = new_subject(officer("caseworker"))
    a1 = _zone_alert(container, s["id"], "z1")
    reader = Actor(kind="user", id=str(uuid.uuid4()), name="forgetful", agency_id=agencies["home_office"],
                   role=Role.CASEWORKER)
    with container.uow(reader) as uow:
        alert = alerts.load(uow=uow, alert_id=uuid.UUID(a1))
        alert.status = "resolved"  # an uncommitted change: dropped, as always
    assert _entries(container, "alert", "read") == [("read", a1, "forgetful")]
    with container.session_factory() as s2:
        assert s2.get(Alert, uuid.UUID(a1)).status == "open"


def _make_user(container, agencies, name, password="a-very-long-password"):
    from custodes.access import service as access
    from custodes.access.models import UserCreate

    with container.uow(Actor.system("test")) as uow:
        user = access.create_user(uow=uow, data=UserCreate(username=name, password=password, role="caseworker"),
                                  agency_id=agencies["home_office"])
        uow.commit()
    return str(user.id), password


def test_a_sign_in_is_audited_with_the_officer(client, container, agencies):
    user_id, password = _make_user(container, agencies, "audited.one")
    assert client.post("/v1/auth/token", data={"username": "audited.one", "password": password}).status_code == 200
    assert _entries(container, "user", "sign_in") == [("sign_in", user_id, "audited.one")]


def test_every_refused_sign_in_is_audited_including_throttled_ones(client, container, agencies):
    _make_user(container, agencies, "audited.two")
    codes = [client.post("/v1/auth/token", data={"username": "audited.two", "password": "nope-nope-nope"}).status_code
             for _ in range(8)]
    assert set(codes) <= {401, 429} and 429 in codes  # some were refused by the throttle itself
    assert len(_entries(container, "user", "sign_in_failed")) == len(codes)
