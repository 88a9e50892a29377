"""The evidence pack for one alert: what a court needs to check the alert without the system.

It holds the fixes around the event with their accuracy (a map), the rule and its version, the raw
batch identifiers (with a digest of each stored body), the decisions and who took them, and the
audit entries that cover the pack with their chain hashes, the export of the pack itself included.
`assemble` gathers it (scoped and audited); `pdf.py` lays it out.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from custodes.access.models import User
from custodes.alerts import service as alerts
from custodes.alerts.models import Alert
from custodes.audit.models import AuditEntry
from custodes.console import plain, trail_reads
from custodes.errors import NotFound
from custodes.orders.models import Condition, Order
from custodes.subjects.models import Subject
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.trail import TrailPoint
from custodes.uow import UnitOfWork

AROUND = timedelta(minutes=30)


@dataclass
class RuleVersion:
    condition_id: str
    kind: str
    words: str
    spec: dict[str, Any]
    version: int  # how many times it had been written (created, then each change) when the alert was raised
    written_at: datetime | None
    written_by: str | None


@dataclass
class BatchRef:
    device_id: str
    seq: int
    received_at: datetime
    channel: str
    items: int
    body_sha256: str


@dataclass
class EvidencePack:
    subject: Subject
    alert: Alert
    points: list[TrailPoint]
    window: tuple[datetime, datetime]
    rule: RuleVersion | None
    batches: list[BatchRef]
    decisions: list[tuple[datetime, str, str]]  # when, who, what
    audit: list[AuditEntry] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)


def _rule(uow: UnitOfWork, subject: Subject, alert: Alert) -> tuple[RuleVersion | None, list[str], list[dict]]:
    ev = alert.evidence or {}
    rule_id = ev.get("zone_id") or ev.get("curfew_id")
    conditions = uow.session.scalars(select(Condition).join(Order, Order.id == Condition.order_id)
                                     .where(Order.subject_id == subject.id)).all()
    zones = [c.spec for c in conditions if c.kind == "zone"]
    cond = next((c for c in conditions if str(c.id) == str(rule_id)), None)
    if cond is None:
        return None, [], zones
    # The version in force when the alert was raised: the rule's writes that precede the alert's own
    # entry in the chain (by sequence, not by clock time, which replays and back-fills would muddle).
    raised_seq = uow.session.scalar(select(AuditEntry.seq).where(
        AuditEntry.target_type == "alert", AuditEntry.target_id == str(alert.id), AuditEntry.action == "create"))
    writes = uow.session.scalars(select(AuditEntry).where(
        AuditEntry.target_type == "condition", AuditEntry.target_id == str(cond.id),
        AuditEntry.action.in_(("create", "update")),
        AuditEntry.seq < (raised_seq if raised_seq is not None else 2**62)).order_by(AuditEntry.seq)).all()
    last = writes[-1] if writes else None
    return (RuleVersion(str(cond.id), cond.kind, plain.condition(cond.kind, cond.spec, subject.time_zone), cond.spec,
                        len(writes), last.at if last else None, last.actor_name if last else None),
            [str(cond.id)], zones)


def _batches(uow: UnitOfWork, alert: Alert, points: list[TrailPoint]) -> list[BatchRef]:
    keys = {tuple(p.fix_id.split("/")[:2]) for p in points}
    if src := (alert.evidence or {}).get("source_batch"):
        keys.add(tuple(str(src).split("/")[:2]))
    if not keys:
        return []
    where = or_(*[and_(TelemetryBatch.device_id == uuid.UUID(d), TelemetryBatch.seq == int(s)) for d, s in keys])
    rows = uow.session.scalars(select(TelemetryBatch).where(where).order_by(TelemetryBatch.seq)).all()
    return [BatchRef(str(b.device_id), b.seq, b.received_at, b.channel, b.item_count,
                     hashlib.sha256(b.raw).hexdigest()) for b in rows]


def _decisions(uow: UnitOfWork, alert: Alert) -> list[tuple[datetime, str, str]]:
    ids = {i for i in (alert.acknowledged_by, alert.resolved_by) if i}
    names = {u.id: u.username for u in uow.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    out = [(alert.raised_at, "the rules engine", f"raised {alert.kind.replace('_', ' ')} ({alert.severity})")]
    if alert.acknowledged_at:
        out.append((alert.acknowledged_at, names.get(alert.acknowledged_by, "unknown"), "acknowledged"))
    if alert.resolved_at:
        out.append((alert.resolved_at, names.get(alert.resolved_by, "unknown"),
                    f"resolved: {(alert.outcome or '').replace('_', ' ')}; reason: {alert.reason}"))
    return out


def assemble(*, uow: UnitOfWork, subject_id: uuid.UUID, alert_id: uuid.UUID, purpose: str) -> EvidencePack:
    """Gather the pack and commit its own audited export, then read back the audit entries covering it."""
    alert = alerts.load(uow=uow, alert_id=alert_id)
    if alert.subject_id != subject_id:
        raise NotFound(f"alert {alert_id} not found")
    req = trail_reads.TrailRequest(alert.occurred_at - AROUND, alert.occurred_at + AROUND, purpose,
                                   f"evidence pack for alert {alert.id}")
    subject, points = trail_reads.read(uow=uow, subject_id=subject_id, req=req, export="evidence_pack")
    rule, condition_ids, zones = _rule(uow, subject, alert)
    pack = EvidencePack(subject=subject, alert=alert, points=points, window=(req.t_from, req.t_to), rule=rule,
                        batches=_batches(uow, alert, points), decisions=_decisions(uow, alert), zones=zones)
    uow.commit()  # the export entry gets its place and hash in the chain, so the pack can show it
    targets = [and_(AuditEntry.target_type == "alert", AuditEntry.target_id == str(alert.id))]
    if condition_ids:
        targets.append(and_(AuditEntry.target_type == "condition", AuditEntry.target_id.in_(condition_ids)))
    mine = select(AuditEntry.seq).where(AuditEntry.target_type == "trail", AuditEntry.target_id == str(subject.id),
                                        AuditEntry.action == "export", AuditEntry.actor_id == uow.actor.id)
    targets.append(AuditEntry.seq == mine.order_by(AuditEntry.seq.desc()).limit(1).scalar_subquery())
    pack.audit = list(uow.session.scalars(select(AuditEntry).where(or_(*targets)).order_by(AuditEntry.seq)))
    return pack
