"""An overdue quarterly review raises an alert to the caseworker, once per missed due date."""

from __future__ import annotations

from datetime import timedelta

from custodes.orders.scheduled import ALERT_REVIEW_OVERDUE, review_overdue_tick


def _overdue_alerts(client, headers):
    return client.get("/v1/alerts", params={"kind": ALERT_REVIEW_OVERDUE}, headers=headers).json()["items"]


def test_an_overdue_review_raises_one_alert(client, officer, new_subject, new_order, container, clock):
    cw = officer("caseworker")
    s = new_subject(cw)
    o = new_order(cw, s["id"])  # starts 2027-01-01: review due 2027-04-01
    draft = new_order(cw, s["id"], status="draft")
    assert review_overdue_tick(container).raised == 0  # 2027-01-15: nothing due yet
    clock.advance(timedelta(days=77))  # 2027-04-02
    first = review_overdue_tick(container)
    assert (first.overdue, first.raised) == (1, 1)  # the draft order is not monitoring anyone
    assert review_overdue_tick(container).raised == 0  # idempotent: every tick, every worker
    cw = officer("caseworker")
    alerts = _overdue_alerts(client, cw)
    assert len(alerts) == 1
    assert alerts[0]["category"] == "casework" and alerts[0]["evidence"]["order_id"] == o["id"]
    assert alerts[0]["subject_id"] == s["id"] and draft["id"] not in str(alerts[0]["evidence"])
    # Reviewed late: the next due date is 90 days on; missing that one too raises a new alert.
    assert client.patch(f"/v1/orders/{o['id']}", json={"reviewed": True}, headers=cw).status_code == 200
    assert review_overdue_tick(container).overdue == 0
    clock.advance(timedelta(days=91))
    assert review_overdue_tick(container).raised == 1
    assert len(_overdue_alerts(client, officer("caseworker"))) == 2


def test_a_tick_reaches_every_overdue_order_however_many(client, officer, new_subject, new_order, container, clock):
    """An overdue order stays overdue after its alert: a pass over only the first chunk would take the
    same orders at every tick and never reach the others."""
    cw = officer("caseworker")
    for _ in range(5):
        new_order(cw, new_subject(cw)["id"])
    clock.advance(timedelta(days=77))
    first = review_overdue_tick(container, batch=2)
    assert (first.overdue, first.raised) == (5, 5)
    assert len(_overdue_alerts(client, officer("caseworker"))) == 5  # a fresh token: 77 days on
    assert review_overdue_tick(container, batch=2).raised == 0
