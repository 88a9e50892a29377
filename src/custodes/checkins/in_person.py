"""In-person reporting, the non-biometric alternative: the arrangement in force and the day's
reporting requirement it puts in place of face prompts.

The requirement is a check-in prompt of method `in_person` spanning the reporting window, so the
same sweep that raises a missed face check-in raises a missed report, and a scan that satisfies it
(status `reported`) is never missed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from custodes.checkins.models import CheckInPrompt, InPersonArrangement
from custodes.orders.models import Order
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

METHOD = "in_person"
REPORTED = "reported"


def active_arrangement(*, uow: UnitOfWork, subject_id: uuid.UUID, at: datetime) -> InPersonArrangement | None:
    return uow.session.scalars(
        select(InPersonArrangement).where(InPersonArrangement.subject_id == subject_id,
                                          InPersonArrangement.starts_at <= at,
                                          or_(InPersonArrangement.ended_at.is_(None),
                                              InPersonArrangement.ended_at > at))
        .order_by(InPersonArrangement.starts_at.desc())).first()


def window(arrangement: InPersonArrangement, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The day's reporting window in UTC (local wall times; a DST gap resolves forward by zoneinfo)."""
    start = datetime.combine(day, time.fromisoformat(arrangement.window_start), zone)
    end = datetime.combine(day, time.fromisoformat(arrangement.window_end), zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def requirement_for_day(*, uow: UnitOfWork, subject_id: uuid.UUID, day: date) -> CheckInPrompt | None:
    return uow.session.scalars(select(CheckInPrompt).where(
        CheckInPrompt.subject_id == subject_id, CheckInPrompt.method == METHOD, CheckInPrompt.day == day)).first()


def ensure_days(*, uow: UnitOfWork, subject: Subject, order: Order, arrangement: InPersonArrangement,
                at: datetime) -> int:
    """Put today's (and yesterday's, like the face draw) reporting requirement in place, once."""
    zone = ZoneInfo(subject.time_zone)
    today = at.astimezone(zone).date()
    made = 0
    for day in (today - timedelta(days=1), today):
        opens, closes = window(arrangement, day, zone)
        if closes <= arrangement.starts_at or not (order.starts_at <= opens and closes <= order.ends_at):
            continue
        if requirement_for_day(uow=uow, subject_id=subject.id, day=day) is not None:
            continue
        try:
            with uow.session.begin_nested():  # another worker may have put it in place first
                uow.session.add(CheckInPrompt(id=uuid.uuid4(), subject_id=subject.id, order_id=order.id, day=day,
                                              opens_at=opens, closes_at=closes, status="pending", attempts=0,
                                              failures_to_acquire=0, method=METHOD))
                uow.session.flush()
        except IntegrityError:
            continue
        made += 1
    return made
