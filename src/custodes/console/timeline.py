"""The subject's timeline: fixes (by hour), device status reports, check-ins, alerts, decisions and reviews.

Everything is loaded for one subject that the caller has already loaded through the scope
(`subjects.service.load`), so nothing here can reach another agency's case.
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from custodes.access.models import User
from custodes.alerts import service as alerts
from custodes.audit.models import AuditEntry
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.devices import service as devices
from custodes.orders.models import Order
from custodes.review.models import ReviewDecision, ReviewItem
from custodes.subjects.models import Subject
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.trail import TrailPoint
from custodes.uow import UnitOfWork


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # fixes | status | check_in | alert | decision | review | order
    text: str
    link: str | None = None


def _names(uow: UnitOfWork, ids: set) -> dict[str, str]:
    ids = {uuid.UUID(str(i)) for i in ids if i}
    if not ids:
        return {}
    return {str(u.id): u.username for u in uow.session.scalars(select(User).where(User.id.in_(ids)))}


def fix_hours(points: list[TrailPoint]) -> list[Event]:
    buckets: dict[datetime, list[TrailPoint]] = {}
    for p in points:
        buckets.setdefault(p.at.replace(minute=0, second=0, microsecond=0), []).append(p)
    out = []
    for hour, ps in buckets.items():
        acc = [p.accuracy_m for p in ps]
        out.append(Event(hour, "fixes", f"{len(ps)} fix{'es' if len(ps) != 1 else ''} in the hour, accuracy "
                                        f"{min(acc):g}–{max(acc):g} m (median {statistics.median(acc):g} m)"))
    return out


def build(*, uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime,
          points: list[TrailPoint] | None) -> list[Event]:
    s = uow.session
    events: list[Event] = fix_hours(points) if points is not None else []
    for a in devices.assignments_of_subject(uow=uow, subject_id=subject.id):
        lo, hi = max(a.starts_at, t_from), min(a.ends_at or t_to, t_to)
        if lo >= hi:
            continue
        batches = s.execute(select(TelemetryBatch.seq, TelemetryBatch.statuses).where(
            TelemetryBatch.device_id == a.device_id, TelemetryBatch.received_at >= lo,
            TelemetryBatch.received_at < hi + timedelta(days=1))).all()
        for _seq, statuses in batches:
            for st in statuses or []:
                at = datetime.fromtimestamp(st["t_ms"] / 1000, UTC) if "t_ms" in st else None
                if at is None or not (t_from <= at < t_to):
                    continue
                events.append(Event(at, "status", f"device status: battery {st.get('battery_pct'):.0f}%, strap "
                                                  f"{st.get('strap')}{', charging' if st.get('charging') else ''}"))
    for p in s.scalars(select(CheckInPrompt).where(CheckInPrompt.subject_id == subject.id,
                                                   CheckInPrompt.opens_at >= t_from, CheckInPrompt.opens_at < t_to)):
        events.append(Event(p.opens_at, "check_in", f"face check-in asked: {p.status}"
                                                    + (f", {p.outcome}" if p.outcome else "")))
    for at, outcome, reason in s.execute(select(CheckInAttempt.submitted_at, CheckInAttempt.outcome,
                                                CheckInAttempt.reason).where(
            CheckInAttempt.subject_id == subject.id, CheckInAttempt.submitted_at >= t_from,
            CheckInAttempt.submitted_at < t_to)):
        events.append(Event(at, "check_in", f"check-in photo: {outcome.replace('_', ' ')} ({reason.replace('_', ' ')})"))
    subject_alerts, _ = alerts.list_alerts(uow=uow, limit=500, offset=0, subject_id=subject.id)
    names = _names(uow, {a.acknowledged_by for a in subject_alerts} | {a.resolved_by for a in subject_alerts})
    for a in subject_alerts:
        kind = a.kind.replace("_", " ")
        if t_from <= a.occurred_at < t_to:
            events.append(Event(a.occurred_at, "alert", f"alert: {kind} ({a.category.replace('_', ' ')}, {a.severity})",
                                f"#alert-{a.id}"))
        if a.acknowledged_at and t_from <= a.acknowledged_at < t_to:
            events.append(Event(a.acknowledged_at, "decision",
                                f"alert {kind} acknowledged by {names.get(str(a.acknowledged_by), 'someone')}"))
        if a.resolved_at and t_from <= a.resolved_at < t_to:
            events.append(Event(a.resolved_at, "decision", f"alert {kind} resolved by "
                                f"{names.get(str(a.resolved_by), 'someone')}: {(a.outcome or '').replace('_', ' ')} — {a.reason}"))
    decisions = s.execute(select(ReviewDecision, ReviewItem).join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
                          .where(ReviewItem.subject_id == subject.id, ReviewDecision.decided_at >= t_from,
                                 ReviewDecision.decided_at < t_to)).all()
    names = _names(uow, {d.reviewer_id for d, _ in decisions})
    for d, _item in decisions:
        events.append(Event(d.decided_at, "decision", f"face review: {names.get(str(d.reviewer_id), 'a reviewer')} "
                                                      f"decided {d.decision.replace('_', ' ')} — {d.reason}"))
    order_ids = [str(o) for o in s.scalars(select(Order.id).where(Order.subject_id == subject.id))]
    if order_ids:
        # Quarterly reviews and order changes, as the audit log recorded them.
        for e in s.scalars(select(AuditEntry).where(AuditEntry.target_type == "order",
                                                    AuditEntry.target_id.in_(order_ids),
                                                    AuditEntry.action.in_(("create", "update")),
                                                    AuditEntry.at >= t_from, AuditEntry.at < t_to)):
            fields = (e.detail or {}).get("fields", [])
            if "next_review_due" in fields:
                events.append(Event(e.at, "review", f"quarterly review recorded by {e.actor_name or 'someone'}"))
            elif e.action == "create":
                events.append(Event(e.at, "order", f"order created by {e.actor_name or 'someone'}"))
            elif fields:
                events.append(Event(e.at, "order", f"order changed ({', '.join(fields)}) by {e.actor_name or 'someone'}"))
    events.sort(key=lambda e: e.at, reverse=True)
    return events
