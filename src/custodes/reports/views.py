"""Routes for consented demographic records (the owning agency's caseworkers)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import Uow, requires
from custodes.reports import service
from custodes.reports.models import Attribute, DemographicCreate, DemographicRead

router = APIRouter(prefix="/v1/subjects/{subject_id}/demographics", tags=["reports"])


@router.put("", response_model=DemographicRead, dependencies=[requires(Role.CASEWORKER)])
def record_demographic(subject_id: uuid.UUID, data: DemographicCreate, uow: Uow) -> DemographicRead:
    row = service.record(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return DemographicRead.model_validate(row)


@router.get("", response_model=list[DemographicRead], dependencies=[requires(Role.CASEWORKER)])
def list_demographics(subject_id: uuid.UUID, uow: Uow) -> list[DemographicRead]:
    rows = service.list_for_subject(uow=uow, subject_id=subject_id)
    uow.commit()
    return [DemographicRead.model_validate(r) for r in rows]


@router.delete("/{attribute}", status_code=204, dependencies=[requires(Role.CASEWORKER)])
def withdraw_demographic(subject_id: uuid.UUID, attribute: Attribute, uow: Uow) -> None:
    service.withdraw(uow=uow, subject_id=subject_id, attribute=attribute)
    uow.commit()
