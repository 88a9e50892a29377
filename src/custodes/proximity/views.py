"""Routes for protected people and proximity conditions. No route returns a protected position."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.access.deps import Paging, Uow, requires
from custodes.actor import Role
from custodes.pagination import Page
from custodes.proximity import people
from custodes.proximity.models import (
    ConsentWithdrawal,
    ProtectedPersonCreate,
    ProtectedPersonRead,
    ProximityConditionCreate,
    ProximityConditionRead,
)

router = APIRouter(prefix="/v1", tags=["proximity"])

# Caseworkers register protected people and set conditions; reviewers and probation officers see
# that a condition exists (never where anyone is). Police and auditors have no route here.
READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION)
WRITERS = (Role.CASEWORKER,)


@router.post("/protected-people", response_model=ProtectedPersonRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def register_protected_person(data: ProtectedPersonCreate, uow: Uow) -> ProtectedPersonRead:
    """A protected person, with their consent, and their own phone (a device of the agency, worn by
    nobody, sending through one of the adapters). Their positions are kept as one, never as a trail."""
    row = people.register(uow=uow, data=data)
    uow.commit()
    return ProtectedPersonRead.model_validate(row)


@router.get("/protected-people", response_model=Page[ProtectedPersonRead], dependencies=[requires(*READERS)])
def list_protected_people(uow: Uow, paging: Paging) -> Page[ProtectedPersonRead]:
    rows, total = people.list_people(uow=uow, limit=paging.limit, offset=paging.offset)
    uow.commit()
    return Page(items=[ProtectedPersonRead.model_validate(r) for r in rows], total=total, **paging.model_dump())


@router.get("/protected-people/{protected_id}", response_model=ProtectedPersonRead, dependencies=[requires(*READERS)])
def get_protected_person(protected_id: uuid.UUID, uow: Uow) -> ProtectedPersonRead:
    row = people.get(uow=uow, protected_id=protected_id)
    uow.commit()
    return ProtectedPersonRead.model_validate(row)


@router.post("/protected-people/{protected_id}/consent-withdrawal", response_model=ProtectedPersonRead,
             dependencies=[requires(*WRITERS)])
def withdraw_consent(protected_id: uuid.UUID, data: ConsentWithdrawal, uow: Uow) -> ProtectedPersonRead:
    """Consent ends: the one position kept is deleted at once and no rule reads this person again."""
    row = people.withdraw_consent(uow=uow, protected_id=protected_id, data=data)
    uow.commit()
    return ProtectedPersonRead.model_validate(row)


@router.post("/orders/{order_id}/proximity-conditions", response_model=ProximityConditionRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def add_proximity_condition(order_id: uuid.UUID, data: ProximityConditionCreate, uow: Uow) -> ProximityConditionRead:
    """Keep the order's subject `radius_m` away from a protected person of the same agency."""
    row = people.add_condition(uow=uow, order_id=order_id, data=data)
    uow.commit()
    return ProximityConditionRead.model_validate(row)


@router.get("/orders/{order_id}/proximity-conditions", response_model=list[ProximityConditionRead],
            dependencies=[requires(*READERS)])
def list_proximity_conditions(order_id: uuid.UUID, uow: Uow) -> list[ProximityConditionRead]:
    rows = people.conditions(uow=uow, order_id=order_id)
    uow.commit()
    return [ProximityConditionRead.model_validate(r) for r in rows]


@router.delete("/proximity-conditions/{condition_id}", status_code=204, dependencies=[requires(*WRITERS)])
def delete_proximity_condition(condition_id: uuid.UUID, uow: Uow) -> None:
    people.delete_condition(uow=uow, condition_id=condition_id)
    uow.commit()
