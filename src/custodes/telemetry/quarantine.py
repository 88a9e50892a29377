"""Batches that keep failing: counted, then set aside with their error so the device goes on.

A batch is retried a bounded number of times (`MAX_ATTEMPTS`); then it is quarantined, an integrity
alert is raised for whoever wore the device, and the device's later batches are processed. The
raw batch stays as it was; `custodes telemetry quarantine replay` puts it back once the cause is fixed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import defer

from custodes.actor import Actor
from custodes.alerts.service import raise_alert
from custodes.audit.models import AuditAction
from custodes.bootstrap import Container
from custodes.devices.models import Assignment
from custodes.telemetry.models import TelemetryBatch, pending_batches
from custodes.uow import UnitOfWork

MAX_ATTEMPTS = 3
ACTOR = Actor.system("pipeline")


def iso_z(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def one_line(exc: BaseException) -> str:
    """The error as one readable line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()[:500]


def record_failure(container: Container, device_id: uuid.UUID, exc: BaseException, *,
                   max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Count a failure against the device's first pending batch (the one a one-batch turn takes);
    at the bound, quarantine it and raise the alert. Returns whether it was quarantined."""
    now = container.clock.now()
    with container.uow(ACTOR) as uow:
        s = uow.session
        b = s.scalars(select(TelemetryBatch).options(defer(TelemetryBatch.raw))
                      .where(TelemetryBatch.device_id == device_id, pending_batches())
                      .order_by(TelemetryBatch.seq).limit(1).with_for_update()).first()
        if b is None:
            return False
        b.attempts += 1
        b.last_error = one_line(exc)
        quarantined = b.attempts >= max_attempts
        if quarantined:
            b.quarantined_at = now
            for subject_id in _wearers(s, device_id, b.received_at):
                raise_alert(uow=uow, subject_id=subject_id, kind="telemetry_batch_quarantined", category="integrity",
                            severity="high", occurred_at=now,
                            dedupe_key=f"{subject_id}:quarantine:{device_id}/{b.seq}:{iso_z(now)}",
                            evidence={"batch": f"{device_id}/{b.seq}", "error": b.last_error,
                                      "attempts": b.attempts, "received_at": iso_z(b.received_at),
                                      "fixes": b.fix_count})
        uow.commit()
    return quarantined


def _wearers(s, device_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    spans = s.execute(select(Assignment.subject_id, Assignment.starts_at, Assignment.ends_at)
                      .where(Assignment.device_id == device_id)).all()
    now = [sid for sid, start, end in spans if start <= at and (end is None or at < end)]
    return sorted(set(now or [sid for sid, _, _ in spans]), key=str)


@dataclass(frozen=True)
class Quarantined:
    device_id: uuid.UUID
    seq: int
    received_at: datetime
    quarantined_at: datetime
    attempts: int
    fixes: int
    error: str


def list_quarantined(*, uow: UnitOfWork, device_id: uuid.UUID | None = None) -> list[Quarantined]:
    q = (select(TelemetryBatch.device_id, TelemetryBatch.seq, TelemetryBatch.received_at, TelemetryBatch.quarantined_at,
                TelemetryBatch.attempts, TelemetryBatch.fix_count, TelemetryBatch.last_error)
         .where(TelemetryBatch.quarantined_at.is_not(None), TelemetryBatch.processed_at.is_(None))
         .order_by(TelemetryBatch.quarantined_at, TelemetryBatch.device_id, TelemetryBatch.seq))
    if device_id is not None:
        q = q.where(TelemetryBatch.device_id == device_id)
    return [Quarantined(*row[:6], row[6] or "") for row in uow.session.execute(q)]


def replay(*, uow: UnitOfWork, device_id: uuid.UUID | None, seq: int | None = None) -> list[tuple[uuid.UUID, int]]:
    """Put quarantined batches back in line (attempts from zero); audited. Returns (device, seq) of each."""
    q = select(TelemetryBatch).options(defer(TelemetryBatch.raw)).where(
        TelemetryBatch.quarantined_at.is_not(None), TelemetryBatch.processed_at.is_(None))
    if device_id is not None:
        q = q.where(TelemetryBatch.device_id == device_id)
    if seq is not None:
        q = q.where(TelemetryBatch.seq == seq)
    done = []
    for b in uow.session.scalars(q.order_by(TelemetryBatch.device_id, TelemetryBatch.seq).with_for_update()):
        uow.record(AuditAction.UPDATE, "telemetry_batch", b.id,
                   detail={"replay": f"{b.device_id}/{b.seq}", "quarantined_at": iso_z(b.quarantined_at),
                           "last_error": b.last_error, "attempts": b.attempts})
        b.quarantined_at, b.attempts = None, 0
        done.append((b.device_id, b.seq))
    return done
