"""Routes for subjects and case sharing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import Paging, Uow, requires
from custodes.pagination import Page
from custodes.subjects import service
from custodes.subjects.models import (
    ShareCreate,
    ShareRead,
    SubjectCreate,
    SubjectRead,
    SubjectUpdate,
)

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
WRITERS = (Role.CASEWORKER,)


@router.post("", response_model=SubjectRead, status_code=201, dependencies=[requires(*WRITERS)])
def create_subject(data: SubjectCreate, uow: Uow) -> SubjectRead:
    subject = service.create(uow=uow, data=data)
    uow.commit()
    return SubjectRead.model_validate(subject)


@router.get("", response_model=Page[SubjectRead], dependencies=[requires(*READERS)])
def list_subjects(uow: Uow, paging: Paging, name: str | None = None) -> Page[SubjectRead]:
    items, total = service.list_visible(uow=uow, limit=paging.limit, offset=paging.offset, name=name)
    uow.commit()
    return Page(items=[SubjectRead.model_validate(s) for s in items], total=total, **paging.model_dump())


@router.get("/{subject_id}", response_model=SubjectRead, dependencies=[requires(*READERS)])
def get_subject(subject_id: uuid.UUID, uow: Uow) -> SubjectRead:
    subject = service.get(uow=uow, subject_id=subject_id)
    uow.commit()
    return SubjectRead.model_validate(subject)


@router.patch("/{subject_id}", response_model=SubjectRead, dependencies=[requires(*WRITERS)])
def update_subject(subject_id: uuid.UUID, data: SubjectUpdate, uow: Uow) -> SubjectRead:
    subject = service.update(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return SubjectRead.model_validate(subject)


@router.post("/{subject_id}/shares", response_model=ShareRead, status_code=201, dependencies=[requires(*WRITERS)])
def share_subject(subject_id: uuid.UUID, data: ShareCreate, uow: Uow) -> ShareRead:
    row = service.share(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return ShareRead.model_validate(row)


@router.delete("/{subject_id}/shares/{agency_id}", status_code=204, dependencies=[requires(*WRITERS)])
def unshare_subject(subject_id: uuid.UUID, agency_id: uuid.UUID, uow: Uow) -> None:
    service.unshare(uow=uow, subject_id=subject_id, agency_id=agency_id)
    uow.commit()
