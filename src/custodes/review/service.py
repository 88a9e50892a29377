"""The review queue: reviewers seeing and deciding items (opened through `intake`).

Rules: one decision per reviewer per item. "Same person" or "unusable" closes an item. "Different
person" (adverse) needs a second, different reviewer to agree; if the second disagrees, the item
closes with the second reviewer's non-adverse finding (the benefit of the doubt goes to the
person). Only `_close_adverse` writes the adverse outcome, and the database checks it too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from custodes.subjects.scope import load_through_subject, subject_visible
from custodes.alerts import service as alerts
from custodes.errors import Conflict, Forbidden, NotFound
from custodes.pagination import paged
from custodes.review.models import (
    ADVERSE,
    ErrorRateRow,
    GroundTruthRow,
    ReviewDecision,
    ReviewDecisionCreate,
    ReviewDecisionKind,
    ReviewDecisionRead,
    ReviewItem,
    ReviewItemDetail,
    ReviewItemRead,
)
from custodes.review.ports import CaseEvidence
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

ALERT_CONFIRMED = "check_in_failed"


def load(*, uow: UnitOfWork, item_id: uuid.UUID) -> ReviewItem:
    return load_through_subject(uow, ReviewItem, item_id, "review item")


def list_items(*, uow: UnitOfWork, limit: int, offset: int, status: str | None = None) -> tuple[list[ReviewItem], int]:
    q = (select(ReviewItem).join(Subject, Subject.id == ReviewItem.subject_id).where(subject_visible(uow.actor))
         .order_by(ReviewItem.created_at, ReviewItem.id))
    if status is not None:
        q = q.where(ReviewItem.status == status)
    return paged(uow.session, q, limit, offset)


def detail(*, uow: UnitOfWork, evidence: CaseEvidence, item_id: uuid.UUID) -> ReviewItemDetail:
    item = load(uow=uow, item_id=item_id)
    references, probe = evidence.photo_ids(uow, subject_id=item.subject_id, attempt_id=item.attempt_id)
    decisions = uow.session.scalars(select(ReviewDecision).where(ReviewDecision.item_id == item.id)
                                    .order_by(ReviewDecision.decided_at))
    return ReviewItemDetail(
        **ReviewItemRead.model_validate(item).model_dump(),
        decision_record=evidence.decision_record(uow, item.prompt_id),
        decisions=[ReviewDecisionRead.model_validate(d) for d in decisions],
        reference_photo_ids=references,
        probe_photo_id=probe,
    )


def face_image(*, uow: UnitOfWork, evidence: CaseEvidence, item_id: uuid.UUID, photo_id: uuid.UUID,
               purpose: str) -> tuple[bytes, str]:
    """One of the item's faces (a reference or the probe), opened for the reviewer; audited."""
    item = load(uow=uow, item_id=item_id)
    references, probe = evidence.photo_ids(uow, subject_id=item.subject_id, attempt_id=item.attempt_id)
    # Only this item's faces: a photo id of another item (or case) does not exist here.
    opened = evidence.open_photo(uow, photo_id, purpose) if photo_id in {*references, probe} else None
    if opened is None:
        raise NotFound(f"photo {photo_id} is not part of review item {item_id}")
    return opened


def decide(*, uow: UnitOfWork, item_id: uuid.UUID, data: ReviewDecisionCreate) -> ReviewItem:
    item = load(uow=uow, item_id=item_id)
    if uow.actor.kind != "user" or not uow.actor.id:
        raise Forbidden("only a signed-in reviewer may decide a review item")
    reviewer = uuid.UUID(uow.actor.id)
    if item.status == "closed":
        raise Conflict(f"this item is already closed as {item.outcome}")
    if reviewer in (item.first_reviewer_id, item.second_reviewer_id):
        raise Conflict("you have already decided this item: a second, different reviewer must decide")
    now = uow.clock.now()
    uow.session.add(ReviewDecision(id=uuid.uuid4(), item_id=item.id, reviewer_id=reviewer,
                                   decision=data.decision.value, reason=data.reason, decided_at=now))
    if item.status == "open":
        item.first_reviewer_id, item.first_decision = reviewer, data.decision.value
        if data.decision is ADVERSE:
            item.status = "awaiting_second"  # nothing adverse yet: one person's view is not enough
        else:
            _close(uow, item, data.decision)
        return item
    item.second_reviewer_id, item.second_decision = reviewer, data.decision.value
    if data.decision is ADVERSE and item.first_decision == ADVERSE.value:
        _close_adverse(uow, item)
    else:
        _close(uow, item, data.decision)
    return item


def _close(uow: UnitOfWork, item: ReviewItem, outcome: ReviewDecisionKind) -> None:
    if outcome is ADVERSE:
        raise AssertionError("adverse outcomes are closed by _close_adverse only")
    item.status, item.outcome, item.closed_at = "closed", outcome.value, uow.clock.now()


def _close_adverse(uow: UnitOfWork, item: ReviewItem) -> None:
    """The one place an adverse outcome is written: two different reviewers said different person."""
    if not (item.first_decision == item.second_decision == ADVERSE.value
            and item.first_reviewer_id and item.second_reviewer_id
            and item.first_reviewer_id != item.second_reviewer_id):
        raise AssertionError("an adverse outcome needs two different reviewers deciding so")
    now = uow.clock.now()
    item.status, item.outcome, item.closed_at = "closed", ADVERSE.value, now
    alerts.raise_alert(uow=uow, subject_id=item.subject_id, kind=ALERT_CONFIRMED, category="check_in",
                       severity="high", occurred_at=now, dedupe_key=f"{ALERT_CONFIRMED}:{item.prompt_id}",
                       evidence={"review_item_id": str(item.id), "prompt_id": str(item.prompt_id),
                                 "reviewers": [str(item.first_reviewer_id), str(item.second_reviewer_id)],
                                 "score": item.score, "threshold": item.threshold})


def ground_truth(*, uow: UnitOfWork, limit: int, offset: int) -> tuple[list[GroundTruthRow], int]:
    """Closed items as labelled pairs (machine score vs the humans' finding) for error monitoring."""
    q = (select(ReviewItem).join(Subject, Subject.id == ReviewItem.subject_id)
         .where(subject_visible(uow.actor), ReviewItem.status == "closed").order_by(ReviewItem.closed_at))
    items, total = paged(uow.session, q, limit, offset)
    return [GroundTruthRow(item_id=i.id, score=i.score, threshold=i.threshold, machine_outcome=i.machine_outcome,
                           human_outcome=ReviewDecisionKind(i.outcome),
                           reviewers=1 + (i.second_reviewer_id is not None), closed_at=i.closed_at)
            for i in items], total


# (question, machine reasons, the human finding that means the machine was wrong)
ERROR_QUESTIONS = (
    ("rejected as no match, but the same person", ("no_match", "near_threshold"), ReviewDecisionKind.SAME_PERSON),
    ("rejected by liveness, but the same (live) person", ("liveness_failed",), ReviewDecisionKind.SAME_PERSON),
    ("verified (audit sample), but a different person", ("random_sample", "audit_sample"),
     ReviewDecisionKind.DIFFERENT_PERSON),
)


def error_rates(*, uow: UnitOfWork) -> list[ErrorRateRow]:
    """Live error figures from closed review items, for the cases this officer may see."""
    from custodes.biometrics.metrics import wilson

    rows = uow.session.execute(select(ReviewItem.reason, ReviewItem.outcome)
                               .join(Subject, Subject.id == ReviewItem.subject_id)
                               .where(subject_visible(uow.actor), ReviewItem.status == "closed")).all()
    out = []
    for question, reasons, wrong in ERROR_QUESTIONS:
        found = [outcome for reason, outcome in rows if reason in reasons]
        decided = [o for o in found if o != ReviewDecisionKind.UNUSABLE.value]
        n, k = len(decided), sum(o == wrong.value for o in decided)
        out.append(ErrorRateRow(question=question, machine_reason=",".join(reasons), human_outcome_counted=wrong,
                                n=n, k=k, share=k / n if n else None, wilson95=wilson(k, n) if n else None,
                                unusable=len(found) - n))
    return out
