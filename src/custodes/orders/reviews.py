"""Quarterly reviews of an order: which are due, and recording one (which moves the next due date).

Plain functions over a unit of work, so that scheduled checks (an overdue-review alert) and early
review triggers can call them as they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, Text, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from custodes.subjects.scope import subject_visible
from custodes.audit.models import AuditAction
from custodes.db import Base, UTCDateTime, new_id
from custodes.errors import Conflict, Forbidden
from custodes.orders import service as orders
from custodes.orders.models import Order
from custodes.pagination import paged
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

ReviewOutcome = Literal["continue", "vary", "end", "other"]
REVIEWABLE = ("active", "suspended")  # draft orders are not yet running; ended ones need no review


class OrderReview(Base):
    __tablename__ = "order_reviews"
    __audit_target__ = "order_review"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    reasons: Mapped[str] = mapped_column(Text, nullable=False)
    reviewed_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    reviewed_by_name: Mapped[str] = mapped_column(String(64), nullable=False)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    was_due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    next_review_due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OrderReviewCreate(BaseModel):
    outcome: ReviewOutcome
    reasons: str = Field(min_length=10, max_length=4000,
                         description="why the order continues, varies or ends (a sentence at least)")


class OrderReviewRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    outcome: ReviewOutcome
    reasons: str
    reviewed_by: uuid.UUID
    reviewed_by_name: str
    reviewed_at: datetime
    was_due: datetime
    next_review_due: datetime
    model_config = {"from_attributes": True}


class DueReview(BaseModel):
    order_id: uuid.UUID
    subject_id: uuid.UUID
    subject_name: str
    status: str
    next_review_due: datetime
    review_every_days: int
    overdue: bool
    days_overdue: int


def due_orders(*, uow: UnitOfWork, within_days: int = 14, limit: int = 50, offset: int = 0,
               at: datetime | None = None) -> tuple[list[DueReview], int]:
    """Running orders the actor may see whose review falls due within `within_days` (or is overdue),
    the most overdue first."""
    now = at or uow.clock.now()
    q = (select(Order, Subject).join(Subject, Subject.id == Order.subject_id)
         .where(subject_visible(uow.actor), Order.status.in_(REVIEWABLE),
                Order.next_review_due <= now + timedelta(days=within_days))
         .order_by(Order.next_review_due, Order.id))
    total = paged(uow.session, q.with_only_columns(Order.id), 1, 0)[1]
    rows = uow.session.execute(q.limit(limit).offset(offset)).all()
    out = [DueReview(order_id=o.id, subject_id=s.id, subject_name=s.full_name, status=o.status,
                     next_review_due=o.next_review_due, review_every_days=o.review_every_days,
                     overdue=o.next_review_due < now, days_overdue=max(0, (now - o.next_review_due).days))
           for o, s in rows]
    uow.record(AuditAction.LIST, "order_review_due", None, detail={"order_ids": [str(r.order_id) for r in out]})
    return out, total


def record_review(*, uow: UnitOfWork, order_id: uuid.UUID, data: OrderReviewCreate) -> OrderReview:
    """Record a completed review; the next one falls due one review period after this one."""
    if uow.actor.kind != "user" or not uow.actor.id:
        raise Forbidden("a review is recorded by a signed-in officer")
    order = orders.load(uow=uow, order_id=order_id, for_change=True)
    if order.status not in REVIEWABLE:
        raise Conflict(f"the order is {order.status}; only active or suspended orders are reviewed")
    now = uow.clock.now()
    review = OrderReview(id=uuid.uuid4(), order_id=order.id, outcome=data.outcome, reasons=data.reasons,
                         reviewed_by=uuid.UUID(uow.actor.id), reviewed_by_name=uow.actor.name or "",
                         reviewed_at=now, was_due=order.next_review_due,
                         next_review_due=now + timedelta(days=order.review_every_days))
    order.next_review_due = review.next_review_due
    if data.outcome == "end":
        order.status = "ended"
    uow.session.add(review)
    uow.publish("order.reviewed", {"order_id": str(order.id), "subject_id": str(order.subject_id),
                                   "outcome": data.outcome, "next_review_due": review.next_review_due.isoformat()})
    return review


def reviews_of(*, uow: UnitOfWork, order_id: uuid.UUID) -> list[OrderReview]:
    order = orders.load(uow=uow, order_id=order_id)
    uow.record(AuditAction.LIST, "order_review", None, detail={"order_id": str(order.id)})
    return list(uow.session.scalars(select(OrderReview).where(OrderReview.order_id == order.id)
                                    .order_by(OrderReview.reviewed_at.desc(), OrderReview.id)))
