"""Routes for police trail requests and the owning agency's decisions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.access.actor import Role
from custodes.access.deps import Uow, requires
from custodes.grants import service
from custodes.grants.models import GrantCreate, GrantDecision, GrantRead, GrantStatus, SubjectLookup, SubjectMatch

router = APIRouter(prefix="/v1/trail-grants", tags=["trail grants"])


@router.post("/subject-lookup", response_model=list[SubjectMatch], dependencies=[requires(Role.POLICE)])
def lookup_subject(data: SubjectLookup, uow: Uow) -> list[SubjectMatch]:
    """Exact name and date of birth → subject id and owning agency, nothing else (audited with its purpose)."""
    found = service.lookup_subject(uow=uow, data=data)
    uow.commit()
    return found


@router.post("", response_model=GrantRead, status_code=201, dependencies=[requires(Role.POLICE)])
def request_grant(data: GrantCreate, uow: Uow) -> GrantRead:
    grant = service.request(uow=uow, data=data)
    uow.commit()
    return GrantRead.model_validate(grant)


@router.get("", response_model=list[GrantRead],
            dependencies=[requires(Role.POLICE, Role.CASEWORKER, Role.AUDITOR)])
def list_grants(uow: Uow, status: GrantStatus | None = None) -> list[GrantRead]:
    items = service.list_grants(uow=uow, status=status)
    uow.commit()
    return [GrantRead.model_validate(g) for g in items]


@router.get("/{grant_id}", response_model=GrantRead,
            dependencies=[requires(Role.POLICE, Role.CASEWORKER, Role.AUDITOR)])
def get_grant(grant_id: uuid.UUID, uow: Uow) -> GrantRead:
    grant = service.get(uow=uow, grant_id=grant_id)
    uow.commit()
    return GrantRead.model_validate(grant)


@router.post("/{grant_id}/decision", response_model=GrantRead, dependencies=[requires(Role.CASEWORKER)])
def decide_grant(grant_id: uuid.UUID, data: GrantDecision, uow: Uow) -> GrantRead:
    grant = service.decide(uow=uow, grant_id=grant_id, data=data)
    uow.commit()
    return GrantRead.model_validate(grant)
