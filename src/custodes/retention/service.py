"""Use cases: legal holds (placed and lifted by the owning agency, with a named reason), what is due
now (the plan a retention run follows), and the receipts left behind."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.subjects.scope import subject_owned
from custodes.audit.checkpoint import prunable_through
from custodes.errors import Conflict, NotFound
from custodes.retention import deletion
from custodes.retention.basis import basis_ends
from custodes.retention.models import DeletionReceipt, HoldCreate, HoldLift, LegalHold
from custodes.retention.policy import SIX_YEARS, SUBJECT_CLASSES, DataClass, RetentionPolicy

# Classes kept by the record's own time, so that none outlives six years even while an order runs.
AGED = (DataClass.TELEMETRY_BATCHES, DataClass.TRAIL)
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork


@dataclass(frozen=True)
class Due:
    data_class: DataClass
    subject_id: uuid.UUID | None
    due_at: datetime
    records: int
    held_by: list[uuid.UUID] = field(default_factory=list)
    before: datetime | None = None  # only records older than this (the six-year ceiling on a live basis)


def place_hold(*, uow: UnitOfWork, subject_id: uuid.UUID, data: HoldCreate) -> LegalHold:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    hold = LegalHold(id=uuid.uuid4(), subject_id=subject.id,
                     data_class=str(data.data_class) if data.data_class else None,
                     reason=data.reason, placed_by=uuid.UUID(uow.actor.id) if uow.actor.id else None,
                     placed_at=uow.clock.now())
    uow.session.add(hold)
    return hold


def lift_hold(*, uow: UnitOfWork, hold_id: uuid.UUID, data: HoldLift) -> LegalHold:
    hold = uow.session.scalars(select(LegalHold).join(Subject, Subject.id == LegalHold.subject_id)
                               .where(LegalHold.id == hold_id, subject_owned(uow.actor))).first()
    if hold is None:
        raise NotFound(f"legal hold {hold_id} not found")
    if hold.lifted_at is not None:
        raise Conflict(f"legal hold {hold_id} was already lifted")
    hold.lifted_at, hold.lift_reason = uow.clock.now(), data.reason
    hold.lifted_by = uuid.UUID(uow.actor.id) if uow.actor.id else None
    return hold


def list_holds(*, uow: UnitOfWork, subject_id: uuid.UUID) -> list[LegalHold]:
    subjects.load(uow=uow, subject_id=subject_id)
    return list(uow.session.scalars(select(LegalHold).where(LegalHold.subject_id == subject_id)
                                    .order_by(LegalHold.placed_at)).all())


def active_holds(session: Session) -> dict[uuid.UUID, list[LegalHold]]:
    out: dict[uuid.UUID, list[LegalHold]] = defaultdict(list)
    for h in session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None))):
        out[h.subject_id].append(h)
    return out


def plan(session: Session, policy: RetentionPolicy, now: datetime) -> list[Due]:
    """Everything due now, in deletion order, each with the holds that keep it (if any).

    A hold on one class keeps that class; a hold on every class, or any hold at all, keeps the
    subject record, since deleting the record would take the held data with it."""
    holds = active_holds(session)
    items: list[Due] = []
    ceiling = now - SIX_YEARS
    for subject_id, ended in sorted(basis_ends(session, now).items(), key=lambda kv: str(kv[0])):
        mine = holds.get(subject_id, [])
        for dc in AGED:
            if ended is not None and policy.due_at(dc, ended) <= now:
                continue  # the whole class is due below
            records = deletion.count(session, dc, subject_id, before=ceiling)
            if records:
                items.append(Due(dc, subject_id, ceiling, records,
                                 [h.id for h in mine if h.data_class in (None, str(dc))], before=ceiling))
        if ended is None:
            continue
        for dc in SUBJECT_CLASSES:
            due_at = policy.due_at(dc, ended)
            if due_at > now:
                continue
            records = deletion.count(session, dc, subject_id)
            if not records:
                continue
            held = [h.id for h in holds.get(subject_id, [])
                    if dc is DataClass.SUBJECT_RECORD or h.data_class in (None, str(dc))]
            items.append(Due(dc, subject_id, due_at, records, held))
    cutoff = now - policy.grace(DataClass.AUDIT_LOG)
    start, through = prunable_through(session, cutoff)
    if through > start:
        items.append(Due(DataClass.AUDIT_LOG, None, cutoff, through - start))
    return items


def list_receipts(*, uow: UnitOfWork, subject_id: uuid.UUID | None = None, limit: int = 200) -> list[DeletionReceipt]:
    q = select(DeletionReceipt).order_by(DeletionReceipt.started_at.desc(), DeletionReceipt.id).limit(limit)
    if subject_id is not None:
        q = q.where(DeletionReceipt.subject_id == subject_id)
    return list(uow.session.scalars(q).all())
