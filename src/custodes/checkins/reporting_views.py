"""Routes for in-person reporting: caseworkers move a person to it; reporting-centre staff scan and confirm."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import Uow, requires
from custodes.checkins import reporting
from custodes.checkins.models import (
    InPersonCreate,
    InPersonEnd,
    InPersonRead,
    InPersonReportRead,
    ScanConfirm,
    ScanLookup,
    ScanPerson,
)

router = APIRouter(prefix="/v1", tags=["in-person reporting"])

DECIDERS = (Role.CASEWORKER,)
READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
CENTRE_STAFF = (Role.CASEWORKER, Role.PROBATION)  # reporting centres are run by both


@router.post("/subjects/{subject_id}/in-person", response_model=InPersonRead, status_code=201,
             dependencies=[requires(*DECIDERS)])
def move_to_in_person(subject_id: uuid.UUID, data: InPersonCreate, uow: Uow) -> InPersonRead:
    """Move a person who cannot use face verification to in-person reporting, with the reason."""
    row = reporting.move(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return InPersonRead.model_validate(row)


@router.post("/subjects/{subject_id}/in-person/end", response_model=InPersonRead, dependencies=[requires(*DECIDERS)])
def end_in_person(subject_id: uuid.UUID, data: InPersonEnd, uow: Uow) -> InPersonRead:
    row = reporting.end(uow=uow, subject_id=subject_id, reason=data.reason)
    uow.commit()
    return InPersonRead.model_validate(row)


@router.get("/subjects/{subject_id}/in-person", response_model=list[InPersonRead], dependencies=[requires(*READERS)])
def list_in_person(subject_id: uuid.UUID, uow: Uow) -> list[InPersonRead]:
    return [InPersonRead.model_validate(r) for r in reporting.arrangements(uow=uow, subject_id=subject_id)]


@router.post("/reporting/lookup", response_model=ScanPerson, dependencies=[requires(*CENTRE_STAFF)])
def scan_lookup(data: ScanLookup, uow: Uow) -> ScanPerson:
    """Who the scanned wristband belongs to, for staff to confirm the person in front of them (audited)."""
    person = reporting.lookup(uow=uow, barcode=data.barcode)
    uow.commit()
    return person


@router.post("/reporting/reports", response_model=InPersonReportRead, status_code=201,
             dependencies=[requires(*CENTRE_STAFF)])
def confirm_report(data: ScanConfirm, uow: Uow) -> InPersonReportRead:
    """Staff confirm the person: the report answers the open prompt or the day's requirement."""
    report = reporting.confirm(uow=uow, data=data)
    uow.commit()
    return InPersonReportRead.model_validate(report)
