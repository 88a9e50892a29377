"""Use cases on subjects. Every read of a subject record is audited."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from custodes.access.models import Agency
from custodes.subjects.scope import subject_owned, subject_visible
from custodes.audit.models import AuditAction
from custodes.bounds import check_birth_not_after
from custodes.errors import Conflict, Invalid, NotFound
from custodes.pagination import paged
from custodes.subjects.models import (
    ShareCreate,
    Subject,
    SubjectCreate,
    SubjectShare,
    SubjectUpdate,
)
from custodes.uow import UnitOfWork


def load(*, uow: UnitOfWork, subject_id: uuid.UUID, for_change: bool = False) -> Subject:
    """The subject if this actor may see it (or change it), else NotFound. Not audited by itself."""
    scope = subject_owned(uow.actor) if for_change else subject_visible(uow.actor)
    subject = uow.session.scalars(select(Subject).where(Subject.id == subject_id, scope)).first()
    if subject is None:
        raise NotFound(f"subject {subject_id} not found")
    return subject


def get(*, uow: UnitOfWork, subject_id: uuid.UUID, purpose: str | None = None) -> Subject:
    subject = load(uow=uow, subject_id=subject_id)
    uow.record_read("subject", subject.id, purpose=purpose)
    return subject


def list_visible(*, uow: UnitOfWork, limit: int, offset: int, name: str | None = None) -> tuple[list[Subject], int]:
    q = select(Subject).where(subject_visible(uow.actor)).order_by(Subject.full_name, Subject.id)
    if name:
        q = q.where(Subject.full_name.ilike(f"%{name}%"))
    items, total = paged(uow.session, q, limit, offset)
    uow.record(AuditAction.LIST, "subject", None,
               detail={"ids": [str(s.id) for s in items], "filter": {"name": name} if name else {}})
    return items, total


def create(*, uow: UnitOfWork, data: SubjectCreate) -> Subject:
    check_birth_not_after(data.date_of_birth, uow.clock.now().date())
    subject = Subject(id=uuid.uuid4(), agency_id=uow.actor.agency_id, created_at=uow.clock.now(),
                      **data.model_dump())
    uow.session.add(subject)
    return subject


def update(*, uow: UnitOfWork, subject_id: uuid.UUID, data: SubjectUpdate) -> Subject:
    subject = load(uow=uow, subject_id=subject_id, for_change=True)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise Invalid.field(key, "may not be null")
        if key == "date_of_birth":
            check_birth_not_after(value, uow.clock.now().date())
        setattr(subject, key, value)
    return subject


def share(*, uow: UnitOfWork, subject_id: uuid.UUID, data: ShareCreate) -> SubjectShare:
    subject = load(uow=uow, subject_id=subject_id, for_change=True)
    if uow.session.get(Agency, data.agency_id) is None:
        raise Invalid.field("agency_id", "no such agency")
    if data.agency_id == subject.agency_id:
        raise Invalid.field("agency_id", "the owning agency already sees this case")
    exists = uow.session.scalars(select(SubjectShare).where(
        SubjectShare.subject_id == subject.id, SubjectShare.agency_id == data.agency_id)).first()
    if exists:
        raise Conflict("the case is already shared with that agency")
    row = SubjectShare(id=uuid.uuid4(), subject_id=subject.id, agency_id=data.agency_id,
                       created_at=uow.clock.now())
    uow.session.add(row)
    return row


def unshare(*, uow: UnitOfWork, subject_id: uuid.UUID, agency_id: uuid.UUID) -> None:
    subject = load(uow=uow, subject_id=subject_id, for_change=True)
    row = uow.session.scalars(select(SubjectShare).where(
        SubjectShare.subject_id == subject.id, SubjectShare.agency_id == agency_id)).first()
    if row is None:
        raise NotFound("the case is not shared with that agency")
    uow.session.delete(row)
