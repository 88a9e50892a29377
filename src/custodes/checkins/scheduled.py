"""The check-in sweep, run every minute or so: draw today's prompts for every subject under a
check-in policy (so a silent device still has prompts to miss), then close prompts whose response
window has passed unanswered, raising `check_in_missed` through the alert pipeline.

A missed prompt is an alert for a human to triage, not an outcome: the person may have had no
signal, a flat battery or a good reason, and the alert's resolution says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts import service as alerts
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.checkins.service import ensure_drawn, review_request
from custodes.orders.models import Condition, Order
from custodes.review import intake
from custodes.subjects.models import Subject

ALERT_MISSED = "check_in_missed"


@dataclass(frozen=True)
class SweepReport:
    drawn: int
    missed: int
    reviews: int

    def as_dict(self) -> dict[str, int]:
        return {"drawn": self.drawn, "missed": self.missed, "reviews": self.reviews}


def sweep(container, rng: Random | None = None, batch: int = 500) -> SweepReport:
    """One pass, in one unit of work, at the container clock's "now" (inject a FrozenClock to test)."""
    with container.uow(Actor.system("checkins.sweep")) as uow:
        now = uow.clock.now()
        subjects = uow.session.scalars(
            select(Subject).join(Order, Order.subject_id == Subject.id)
            .join(Condition, Condition.order_id == Order.id)
            .where(Order.status == "active", Order.starts_at <= now, Order.ends_at > now,
                   Condition.kind == "check_in_policy").distinct()).all()
        drawn = sum(ensure_drawn(uow=uow, subject=s, at=now, rng=rng) for s in subjects)
        overdue = uow.session.scalars(
            select(CheckInPrompt).where(CheckInPrompt.status == "pending", CheckInPrompt.closes_at <= now)
            .order_by(CheckInPrompt.closes_at).limit(batch)).all()
        reviews = 0
        for prompt in overdue:
            prompt.status = "missed"
            alerts.raise_alert(
                uow=uow, subject_id=prompt.subject_id, kind=ALERT_MISSED, category="check_in", severity="medium",
                occurred_at=prompt.closes_at, dedupe_key=f"{ALERT_MISSED}:{prompt.id}",
                evidence={"prompt_id": str(prompt.id), "opens_at": prompt.opens_at.isoformat(),
                          "deadline": prompt.closes_at.isoformat(), "attempts": prompt.attempts,
                          "failures_to_acquire": prompt.failures_to_acquire,
                          "challenge_fetched": prompt.challenge is not None})
            if prompt.failures_to_acquire:
                # The person tried but no usable photo came through: a human should see why.
                last = uow.session.scalars(select(CheckInAttempt).where(CheckInAttempt.prompt_id == prompt.id)
                                           .order_by(CheckInAttempt.submitted_at.desc())).first()
                intake.open_item(uow=uow, request=review_request(prompt, last, "repeated_failure_to_acquire"))
                reviews += 1
        uow.commit()
    return SweepReport(drawn=drawn, missed=len(overdue), reviews=reviews)
