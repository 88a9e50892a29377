"""Orders' periodic job: an overdue quarterly review raises an alert to the caseworker, once per
missed due date (the dedupe key holds the date, so a review recorded late and missed again raises anew)."""

from __future__ import annotations

from datetime import datetime

from custodes.alerts import overdue
from custodes.alerts.overdue import DeadlineAlert, Overdue
from custodes.orders.models import Order

ALERT_REVIEW_OVERDUE = "review_overdue"


def dedupe_key(order: Order) -> str:
    return f"{ALERT_REVIEW_OVERDUE}:{order.id}:{order.next_review_due.date().isoformat()}"


def _alert(order: Order, now: datetime) -> DeadlineAlert:
    return DeadlineAlert(ALERT_REVIEW_OVERDUE, dedupe_key(order), order.next_review_due,
                         {"order_id": str(order.id), "review_due": order.next_review_due.isoformat(),
                          "days_overdue": (now - order.next_review_due).days})


def review_overdue_tick(container, batch: int = 1000) -> Overdue:
    """One pass at the container clock's now over every active order past its review date."""
    return overdue.tick(container, actor="orders.reviews", model=Order, deadline=Order.next_review_due,
                        where=Order.status == "active", alert_for=_alert, batch=batch)
