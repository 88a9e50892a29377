"""Orders' periodic job: an overdue quarterly review raises an alert to the caseworker, once per
missed due date (the dedupe key holds the date, so a review recorded late and missed again raises anew)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts import service as alerts
from custodes.orders.models import Order

ALERT_REVIEW_OVERDUE = "review_overdue"


@dataclass(frozen=True)
class OverdueReport:
    overdue: int
    raised: int


def dedupe_key(order: Order) -> str:
    return f"{ALERT_REVIEW_OVERDUE}:{order.id}:{order.next_review_due.date().isoformat()}"


def review_overdue_tick(container, batch: int = 1000) -> OverdueReport:
    """One pass at the container clock's now; idempotent (safe from several workers and every tick)."""
    with container.uow(Actor.system("orders.reviews")) as uow:
        now = uow.clock.now()
        overdue = uow.session.scalars(
            select(Order).where(Order.status == "active", Order.next_review_due <= now)
            .order_by(Order.next_review_due, Order.id).limit(batch)).all()
        raised = 0
        for order in overdue:
            _, new = alerts.raise_alert(
                uow=uow, subject_id=order.subject_id, kind=ALERT_REVIEW_OVERDUE, category="casework",
                severity="medium", occurred_at=order.next_review_due, dedupe_key=dedupe_key(order),
                evidence={"order_id": str(order.id), "review_due": order.next_review_due.isoformat(),
                          "days_overdue": (now - order.next_review_due).days})
            raised += new
        uow.commit()
    return OverdueReport(overdue=len(overdue), raised=raised)
