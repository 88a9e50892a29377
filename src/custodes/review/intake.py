"""How another domain hands a case to review: a narrow request of plain values.

Check-ins call `open_item` with a `ReviewRequest` (and `queued` to skip prompts already in review);
review knows nothing of how check-ins store
their prompts, attempts or photos (it reads those through `ports.CaseEvidence`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from custodes.review.models import ReviewItem
from custodes.uow import UnitOfWork

TOPIC_OPENED = "review.opened"


@dataclass(frozen=True)
class ReviewRequest:
    subject_id: uuid.UUID
    prompt_id: uuid.UUID
    attempt_id: uuid.UUID | None
    machine_outcome: str
    reason: str
    score: float | None = None
    threshold: float | None = None


def open_item(*, uow: UnitOfWork, request: ReviewRequest) -> ReviewItem:
    """Queue a case for a human (one item per prompt), in the caller's unit of work."""
    existing = uow.session.scalars(select(ReviewItem).where(ReviewItem.prompt_id == request.prompt_id)).first()
    if existing is not None:
        return existing
    item = ReviewItem(id=uuid.uuid4(), subject_id=request.subject_id, prompt_id=request.prompt_id,
                      attempt_id=request.attempt_id, reason=request.reason,
                      machine_outcome=request.machine_outcome, score=request.score,
                      threshold=request.threshold, status="open", created_at=uow.clock.now())
    uow.session.add(item)
    uow.publish(TOPIC_OPENED, {"item_id": str(item.id), "subject_id": str(item.subject_id),
                               "reason": request.reason})
    return item


def queued(*, uow: UnitOfWork, prompt_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these prompts already have a review item (of any reason)."""
    if not prompt_ids:
        return set()
    return set(uow.session.scalars(select(ReviewItem.prompt_id).where(ReviewItem.prompt_id.in_(prompt_ids))))
