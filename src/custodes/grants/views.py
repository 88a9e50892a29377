"""Routes for police trail requests and the owning agency's decisions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import Uow, requires
from custodes.grants import service
from custodes.grants.models import (
    GrantCreate,
    GrantDecision,
    GrantEvent,
    GrantRead,
    GrantRevoke,
    GrantStatus,
    SubjectLookup,
    SubjectMatch,
)

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


@router.post("/{grant_id}/revocation", response_model=GrantRead,
             dependencies=[requires(Role.CASEWORKER, Role.POLICE)])
def revoke_grant(grant_id: uuid.UUID, data: GrantRevoke, uow: Uow) -> GrantRead:
    """End a live grant before it expires, with a reason: a caseworker of the owning agency revokes it,
    or the officer who asked withdraws it. Later reads under it are refused (and audited)."""
    grant = service.revoke(uow=uow, grant_id=grant_id, data=data)
    uow.commit()
    return GrantRead.model_validate(grant)


@router.get("/{grant_id}/history", response_model=list[GrantEvent],
            dependencies=[requires(Role.POLICE, Role.CASEWORKER, Role.AUDITOR)])
def grant_history(grant_id: uuid.UUID, uow: Uow) -> list[GrantEvent]:
    """Requested, decided, revoked, withdrawn or expired, and every read tried under the grant."""
    events = service.history(uow=uow, grant_id=grant_id)
    uow.commit()
    return events
