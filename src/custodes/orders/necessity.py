"""Necessity and proportionality before activation, and early reviews brought forward by new facts.

The ICO found the 2022 GPS pilot had no assessment of necessity or proportionality and that its
quarterly reviews were missed: an order here cannot be active without the first, and medical
evidence or a representation brings the second forward, with the reason recorded.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from custodes.errors import Invalid
from custodes.orders.models import NecessityCreate, NecessityRecord, Order, ReviewTrigger
from custodes.uow import UnitOfWork

# A short period: long enough to gather the person's circumstances, short enough to matter.
EARLY_REVIEW_DAYS = 14


def latest(*, uow: UnitOfWork, order_id: uuid.UUID) -> NecessityRecord | None:
    return uow.session.scalars(select(NecessityRecord).where(NecessityRecord.order_id == order_id)
                               .order_by(NecessityRecord.recorded_at.desc(), NecessityRecord.id)).first()


def history(*, uow: UnitOfWork, order_id: uuid.UUID) -> list[NecessityRecord]:
    return list(uow.session.scalars(select(NecessityRecord).where(NecessityRecord.order_id == order_id)
                                    .order_by(NecessityRecord.recorded_at, NecessityRecord.id)))


def record(*, uow: UnitOfWork, order: Order, data: NecessityCreate) -> NecessityRecord:
    uow.session.flush()  # no ORM relationship orders the inserts: the order row goes first
    row = NecessityRecord(id=uuid.uuid4(), order_id=order.id, recorded_at=uow.clock.now(),
                          recorded_by=uuid.UUID(uow.actor.id) if uow.actor.kind == "user" and uow.actor.id else None,
                          **data.model_dump())
    uow.session.add(row)
    uow.session.flush()
    return row


def require_for_activation(*, uow: UnitOfWork, order: Order) -> None:
    """Refuse activation (422 naming the field) unless everything the assessment needs is there."""
    if not order.less_intrusive_options:
        raise Invalid.field("less_intrusive_options", "an order cannot be active without the less intrusive "
                                                      "options considered and why each was rejected")
    found = latest(uow=uow, order_id=order.id)
    if found is None:
        raise Invalid.field("necessity", "an order cannot be active without a necessity and proportionality "
                                         "record (PUT /v1/orders/{id}/necessity)")
    if not (found.vulnerability_and_health or "").strip():
        raise Invalid.field("necessity.vulnerability_and_health",
                            "say how the vulnerability and health flags were assessed")


def bring_review_forward(*, uow: UnitOfWork, order: Order, trigger: str, reason: str,
                         source_id: uuid.UUID | None = None) -> ReviewTrigger:
    """Move the next review to at most `EARLY_REVIEW_DAYS` from now (never later than it was)."""
    now = uow.clock.now()
    previous = order.next_review_due
    new_due = min(previous, now + timedelta(days=EARLY_REVIEW_DAYS))
    order.next_review_due = new_due
    row = ReviewTrigger(id=uuid.uuid4(), order_id=order.id, trigger=trigger, source_id=source_id, reason=reason,
                        previous_due=previous, new_due=new_due, at=now)
    uow.session.add(row)
    return row


def triggers(*, uow: UnitOfWork, order_id: uuid.UUID) -> list[ReviewTrigger]:
    return list(uow.session.scalars(select(ReviewTrigger).where(ReviewTrigger.order_id == order_id)
                                    .order_by(ReviewTrigger.at, ReviewTrigger.id)))
