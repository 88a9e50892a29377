"""Quarterly reviews: which orders are due (scoped), recording one moves the due date, audited."""

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

PROBLEM = "application/problem+json"


def _due(client, headers, within=14):
    r = client.get(f"/v1/order-reviews/due?within_days={within}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_due_and_overdue_orders_are_listed_for_the_agency_only(client, container, officer, new_subject, new_order):
    cw = officer("caseworker")  # today is 2027-01-15
    new_order(cw, new_subject(cw)["id"])  # starts 2027-01-01: review due 2027-04-01, not yet
    soon = new_order(cw, new_subject(cw)["id"], starts_at="2026-10-25T00:00:00Z")  # due 2027-01-23
    late = new_order(cw, new_subject(cw, full_name="Ana Silva")["id"], starts_at="2026-10-05T00:00:00Z")
    new_order(cw, new_subject(cw)["id"], starts_at="2026-10-05T00:00:00Z", status="draft")  # not running
    due = _due(client, cw)
    assert [d["order_id"] for d in due["items"]] == [late["id"], soon["id"]] and due["total"] == 2
    first, second = due["items"]
    assert first["overdue"] and first["days_overdue"] == 12 and first["subject_name"] == "Ana Silva"
    assert not second["overdue"]
    assert _due(client, cw, within=0)["total"] == 1
    assert _due(client, officer("caseworker", "other_office"))["total"] == 0
    with container.engine.connect() as conn:  # the due list names the orders it showed, in the audit log
        listed = conn.execute(sa.text("SELECT detail FROM audit_entries WHERE target_type = 'order_review_due'"
                                      " ORDER BY seq")).scalars().all()
    shown = listed[0] if isinstance(listed[0], dict) else json.loads(listed[0])
    assert shown["order_ids"] == [late["id"], soon["id"]]


def test_recording_a_review_moves_the_next_due_date_and_is_audited(client, container, officer, new_subject,
                                                                   new_order, clock):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"], starts_at="2026-10-05T00:00:00Z")  # due 2027-01-03
    r = client.post(f"/v1/orders/{o['id']}/reviews",
                    json={"outcome": "continue", "reasons": "Complied throughout; curfew still needed."}, headers=cw)
    assert r.status_code == 201, r.text
    review = r.json()
    assert review["was_due"].startswith("2027-01-03")
    assert datetime.fromisoformat(review["next_review_due"]) == clock.now() + timedelta(days=90)
    order = client.get(f"/v1/orders/{o['id']}", headers=cw).json()
    assert order["next_review_due"] == review["next_review_due"] and order["status"] == "active"
    assert _due(client, cw)["total"] == 0
    assert [x["id"] for x in client.get(f"/v1/orders/{o['id']}/reviews", headers=cw).json()] == [review["id"]]
    with container.engine.connect() as conn:
        audited = conn.execute(sa.text("SELECT action, target_type FROM audit_entries "
                                       "WHERE target_type IN ('order_review', 'order') AND action = 'create'")).all()
    assert ("create", "order_review") in [tuple(a) for a in audited]


def test_reasons_are_required_and_nothing_is_stored_without_them(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    for body, field in (({"outcome": "continue"}, "reasons"), ({"outcome": "continue", "reasons": "ok"}, "reasons"),
                        ({"outcome": "extend", "reasons": "a long enough reason"}, "outcome")):
        r = client.post(f"/v1/orders/{o['id']}/reviews", json=body, headers=cw)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["errors"][0]["field"] == field
    assert rows("order_reviews") == 0


def test_an_end_outcome_ends_the_order_and_ended_orders_are_not_reviewed(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    body = {"outcome": "end", "reasons": "Tag no longer proportionate after the appeal."}
    assert client.post(f"/v1/orders/{o['id']}/reviews", json=body, headers=cw).status_code == 201
    assert client.get(f"/v1/orders/{o['id']}", headers=cw).json()["status"] == "ended"
    again = client.post(f"/v1/orders/{o['id']}/reviews", json=body, headers=cw)
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM)


def test_only_the_owning_agency_records_a_review(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    body = {"outcome": "continue", "reasons": "Complied throughout the period."}
    assert client.post(f"/v1/orders/{o['id']}/reviews", json=body,
                       headers=officer("caseworker", "other_office")).status_code == 404
    assert client.post(f"/v1/orders/{o['id']}/reviews", json=body, headers=officer("reviewer")).status_code == 403
    assert rows("order_reviews") == 0
