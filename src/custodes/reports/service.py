"""Use cases on consented demographic records: record (with consent) and withdraw."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from custodes.errors import NotFound
from custodes.reports.models import DemographicCreate, DemographicRecord
from custodes.subjects import service as subjects
from custodes.uow import UnitOfWork


def record(*, uow: UnitOfWork, subject_id: uuid.UUID, data: DemographicCreate) -> DemographicRecord:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    row = uow.session.scalars(select(DemographicRecord).where(DemographicRecord.subject_id == subject.id,
                                                              DemographicRecord.attribute == data.attribute)).first()
    if row is None:
        row = DemographicRecord(id=uuid.uuid4(), subject_id=subject.id, attribute=data.attribute)
        uow.session.add(row)
    row.value, row.consent_given_at = data.value, uow.clock.now()
    row.recorded_by = uuid.UUID(uow.actor.id) if uow.actor.id else None
    return row


def withdraw(*, uow: UnitOfWork, subject_id: uuid.UUID, attribute: str) -> None:
    """Consent withdrawn: the record goes at once (the deletion is audited like any other)."""
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    row = uow.session.scalars(select(DemographicRecord).where(DemographicRecord.subject_id == subject.id,
                                                              DemographicRecord.attribute == attribute)).first()
    if row is None:
        raise NotFound(f"no {attribute} recorded for subject {subject_id}")
    uow.session.delete(row)


def list_for_subject(*, uow: UnitOfWork, subject_id: uuid.UUID) -> list[DemographicRecord]:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    rows = list(uow.session.scalars(select(DemographicRecord).where(DemographicRecord.subject_id == subject.id)))
    uow.record_read("demographic_record", subject.id)
    return rows
