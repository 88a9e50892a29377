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


def _statuses(uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime) -> list[Event]:
    out = []
    for a in devices.assignments_of_subject(uow=uow, subject_id=subject.id):
        lo, hi = max(a.starts_at, t_from), min(a.ends_at or t_to, t_to)
        if lo >= hi:
            continue
        # A batch arrives after its reports: look a day past the window's end.
        for statuses in uow.session.scalars(select(TelemetryBatch.statuses).where(
                TelemetryBatch.device_id == a.device_id, TelemetryBatch.received_at >= lo,
                TelemetryBatch.received_at < hi + timedelta(days=1))):
            for st in statuses or []:
                at = datetime.fromtimestamp(st["t_ms"] / 1000, UTC)
                if t_from <= at < t_to:
                    charging = ", charging" if st.get("charging") else ""
                    out.append(Event(at, "status", f"device status: battery {st.get('battery_pct'):.0f}%, "
                                                   f"strap {st.get('strap')}{charging}"))
    return out


def _check_ins(uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime) -> list[Event]:
    s, out = uow.session, []
    for p in s.scalars(select(CheckInPrompt).where(CheckInPrompt.subject_id == subject.id,
                                                   CheckInPrompt.opens_at >= t_from, CheckInPrompt.opens_at < t_to)):
        out.append(Event(p.opens_at, "check_in", f"face check-in asked: {p.status}"
                                                 + (f", {p.outcome}" if p.outcome else "")))
    for at, outcome, reason in s.execute(select(
            CheckInAttempt.submitted_at, CheckInAttempt.outcome, CheckInAttempt.reason).where(
            CheckInAttempt.subject_id == subject.id, CheckInAttempt.submitted_at >= t_from,
            CheckInAttempt.submitted_at < t_to)):
        out.append(Event(at, "check_in", f"check-in photo: {_words(outcome)} ({_words(reason)})"))
    return out


def _words(code: str | None) -> str:
    return (code or "").replace("_", " ")


def _alerts(uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime) -> list[Event]:
    found, _ = alerts.list_alerts(uow=uow, limit=500, offset=0, subject_id=subject.id)
    names = _names(uow, {a.acknowledged_by for a in found} | {a.resolved_by for a in found})
    out = []
    for a in found:
        kind = _words(a.kind)
        if t_from <= a.occurred_at < t_to:
            out.append(Event(a.occurred_at, "alert", f"alert: {kind} ({_words(a.category)}, {a.severity})",
                             f"#alert-{a.id}"))
        if a.acknowledged_at and t_from <= a.acknowledged_at < t_to:
            who = names.get(str(a.acknowledged_by), "someone")
            out.append(Event(a.acknowledged_at, "decision", f"alert {kind} acknowledged by {who}"))
        if a.resolved_at and t_from <= a.resolved_at < t_to:
            who = names.get(str(a.resolved_by), "someone")
            out.append(Event(a.resolved_at, "decision",
                             f"alert {kind} resolved by {who}: {_words(a.outcome)} — {a.reason}"))
    return out


def _face_reviews(uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime) -> list[Event]:
    decisions = uow.session.scalars(select(ReviewDecision).join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
                                    .where(ReviewItem.subject_id == subject.id, ReviewDecision.decided_at >= t_from,
                                           ReviewDecision.decided_at < t_to)).all()
    names = _names(uow, {d.reviewer_id for d in decisions})
    return [Event(d.decided_at, "decision", f"face review: {names.get(str(d.reviewer_id), 'a reviewer')} decided "
                                            f"{_words(d.decision)} — {d.reason}") for d in decisions]


def _order_changes(uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime) -> list[Event]:
    """Quarterly reviews and order changes, as the audit log recorded them."""
    order_ids = [str(o) for o in uow.session.scalars(select(Order.id).where(Order.subject_id == subject.id))]
    if not order_ids:
        return []
    out = []
    for e in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "order", AuditEntry.target_id.in_(order_ids),
            AuditEntry.action.in_(("create", "update")), AuditEntry.at >= t_from, AuditEntry.at < t_to)):
        who = e.actor_name or "someone"
        fields = (e.detail or {}).get("fields", [])
        if "next_review_due" in fields:
            out.append(Event(e.at, "review", f"quarterly review recorded by {who}"))
        elif e.action == "create":
            out.append(Event(e.at, "order", f"order created by {who}"))
        elif fields:
            out.append(Event(e.at, "order", f"order changed ({', '.join(fields)}) by {who}"))
    return out


def build(*, uow: UnitOfWork, subject: Subject, t_from: datetime, t_to: datetime,
          points: list[TrailPoint] | None) -> list[Event]:
    """Newest first. Fixes only when the trail was read (with its purpose) for this window."""
    events: list[Event] = fix_hours(points) if points is not None else []
    for part in (_statuses, _check_ins, _alerts, _face_reviews, _order_changes):
        events += part(uow, subject, t_from, t_to)
    events.sort(key=lambda e: e.at, reverse=True)
    return events
