"""Check-in schedules: which policy applies, drawing each local day once, the device's open prompt.

A device is only ever told about the prompt open *now*; the rest of the day's draw stays on the
server, so the wearer cannot learn the schedule by asking.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from random import Random

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from custodes.alerts import service as alerts
from custodes.biometrics.liveness import draw_challenge
from custodes.checkins import in_person
from custodes.checkins.models import (
    CheckInAttempt,
    CheckInDay,
    CheckInPrompt,
    CheckInRead,
    PendingPrompt,
    PendingRead,
)
from custodes.checkins.prompts import CheckInPolicy, PolicyError, draw_day
from custodes.devices.models import Assignment
from custodes.errors import Invalid, NotFound
from custodes.orders.models import Condition, Order
from custodes.review.intake import ReviewRequest
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork


def policy_from_spec(spec: dict, time_zone: str) -> CheckInPolicy:
    """The foundation's `check_in_policy` condition, applied in the subject's time zone."""
    try:
        return CheckInPolicy(
            prompts_per_day=int(spec["prompts_per_day"]),
            waking_start=time.fromisoformat(spec.get("waking_start", "08:00")),
            waking_end=time.fromisoformat(spec.get("waking_end", "21:00")),
            time_zone=time_zone,
            quiet_hours=tuple((time.fromisoformat(q["start"]), time.fromisoformat(q["end"]))
                              for q in spec.get("quiet_hours", [])),
            min_gap_minutes=int(spec.get("min_gap_minutes", 60)),
            response_window_minutes=int(spec.get("response_minutes", 15)),
        )
    except PolicyError as exc:
        raise Invalid.field(exc.field, str(exc)) from None


def active_policy(*, uow: UnitOfWork, subject: Subject, at: datetime) -> tuple[Order, CheckInPolicy] | None:
    row = uow.session.execute(
        select(Order, Condition).join(Condition, Condition.order_id == Order.id)
        .where(Order.subject_id == subject.id, Order.status == "active", Order.starts_at <= at,
               Order.ends_at > at, Condition.kind == "check_in_policy")
        .order_by(Order.starts_at.desc())).first()
    if row is None:
        return None
    order, condition = row
    try:
        return order, policy_from_spec(condition.spec, subject.time_zone)
    except Invalid as exc:
        # A policy that cannot be applied must not pass unnoticed (no prompts would ever be drawn),
        # nor stop the sweep for everyone else: a human is told, once per condition.
        alerts.raise_alert(uow=uow, subject_id=subject.id, kind="check_in_policy_invalid", category="integrity",
                           severity="high", occurred_at=at, dedupe_key=f"check_in_policy_invalid:{condition.id}",
                           evidence={"condition_id": str(condition.id), "problem": exc.detail})
        return None


def ensure_drawn(*, uow: UnitOfWork, subject: Subject, at: datetime, rng: Random | None = None) -> int:
    """Draw the subject's prompts for the local day containing `at` and the day before (a waking
    window may run past midnight), once each; returns how many prompts were newly drawn.

    Only prompts whose response window is still to close are kept: a day first drawn mid-day (a
    policy added at noon, a new order, the first sweep after a restart) must not hold prompts nobody
    was ever asked, each of which would become a false `check_in_missed` at the next sweep."""
    found = active_policy(uow=uow, subject=subject, at=at)
    if found is None:
        return 0
    order, policy = found
    arrangement = in_person.active_arrangement(uow=uow, subject_id=subject.id, at=at)
    if arrangement is not None:  # reports in person instead: no face prompts, a daily requirement
        return in_person.ensure_days(uow=uow, subject=subject, order=order, arrangement=arrangement, at=at)
    today = at.astimezone(policy.zone).date()
    now = uow.clock.now()
    made = 0
    for day in (today - timedelta(days=1), today):
        if uow.session.scalars(select(CheckInDay.id).where(CheckInDay.subject_id == subject.id,
                                                           CheckInDay.day == day)).first():
            continue
        start, _ = policy.waking_span(day)
        previous = list(uow.session.scalars(
            select(CheckInPrompt.opens_at).where(CheckInPrompt.subject_id == subject.id,
                                                 CheckInPrompt.opens_at < start)
            .order_by(CheckInPrompt.opens_at.desc()).limit(policy.prompts_per_day)))
        slots = [s for s in draw_day(policy, day, rng, previous)
                 if order.starts_at <= s.opens_at and s.closes_at <= order.ends_at and s.closes_at > now]
        try:
            with uow.session.begin_nested():  # another worker may draw the same day: keep theirs
                uow.session.add(CheckInDay(id=uuid.uuid4(), subject_id=subject.id, day=day, prompts=len(slots),
                                           drawn_at=now))
                uow.session.add_all(CheckInPrompt(id=uuid.uuid4(), subject_id=subject.id, order_id=order.id,
                                                  day=day, opens_at=s.opens_at, closes_at=s.closes_at,
                                                  status="pending", attempts=0, failures_to_acquire=0)
                                    for s in slots)
                uow.session.flush()
        except IntegrityError:
            continue
        made += len(slots)
    return made


def review_request(prompt: CheckInPrompt, attempt: CheckInAttempt | None, reason: str) -> ReviewRequest:
    """A check-in handed to review: plain values only (review does not read check-in tables)."""
    return ReviewRequest(subject_id=prompt.subject_id, prompt_id=prompt.id, attempt_id=attempt.id if attempt else None,
                         machine_outcome=prompt.outcome or "inconclusive", reason=reason,
                         score=attempt.score if attempt else None, threshold=attempt.threshold if attempt else None)


def subject_of_device(*, uow: UnitOfWork, device_id: uuid.UUID, at: datetime) -> Subject:
    subject = uow.session.scalars(
        select(Subject).join(Assignment, Assignment.subject_id == Subject.id)
        .where(Assignment.device_id == device_id, Assignment.starts_at <= at,
               or_(Assignment.ends_at.is_(None), Assignment.ends_at > at))).first()
    if subject is None:
        raise NotFound("this device is not assigned to anyone now")
    return subject


def open_prompt(*, uow: UnitOfWork, subject_id: uuid.UUID, at: datetime) -> CheckInPrompt | None:
    return uow.session.scalars(
        select(CheckInPrompt).where(CheckInPrompt.subject_id == subject_id, CheckInPrompt.status == "pending",
                                    CheckInPrompt.method == "face",
                                    CheckInPrompt.opens_at <= at, CheckInPrompt.closes_at > at)).first()


def pending(*, uow: UnitOfWork, device_id: uuid.UUID) -> PendingRead:
    """The prompt open now for this device's wearer, with a liveness challenge drawn for it."""
    now = uow.clock.now()
    subject = subject_of_device(uow=uow, device_id=device_id, at=now)
    ensure_drawn(uow=uow, subject=subject, at=now)
    prompt = open_prompt(uow=uow, subject_id=subject.id, at=now)
    if prompt is None:
        return PendingRead(prompt=None)
    if prompt.challenge is None:
        prompt.challenge = draw_challenge().as_dict()
        prompt.device_id = device_id
    return PendingRead(prompt=PendingPrompt(prompt_id=prompt.id, opens_at=prompt.opens_at,
                                            deadline=prompt.closes_at, challenge=prompt.challenge))


def list_checkins(*, uow: UnitOfWork, subject: Subject, limit: int, offset: int) -> list[CheckInRead]:
    """Past and current prompts only: future ones are never shown, even to officers."""
    rows = uow.session.scalars(
        select(CheckInPrompt).where(CheckInPrompt.subject_id == subject.id,
                                    CheckInPrompt.opens_at <= uow.clock.now())
        .order_by(CheckInPrompt.opens_at.desc()).limit(limit).offset(offset))
    return [CheckInRead.model_validate(r) for r in rows]
