"""Routes: legal holds on a case (owning agency), and what is due and what was deleted (auditors)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Uow, requires
from custodes.audit.models import AuditAction
from custodes.retention import scheduled, service
from custodes.retention.models import DueRead, HoldCreate, HoldLift, HoldRead, ReceiptRead

router = APIRouter(prefix="/v1", tags=["retention"])


@router.post("/subjects/{subject_id}/legal-holds", response_model=HoldRead, status_code=201,
             dependencies=[requires(Role.CASEWORKER)])
def place_hold(subject_id: uuid.UUID, data: HoldCreate, uow: Uow) -> HoldRead:
    hold = service.place_hold(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return HoldRead.model_validate(hold)


@router.get("/subjects/{subject_id}/legal-holds", response_model=list[HoldRead],
            dependencies=[requires(Role.CASEWORKER, Role.PROBATION, Role.REVIEWER)])
def list_holds(subject_id: uuid.UUID, uow: Uow) -> list[HoldRead]:
    holds = service.list_holds(uow=uow, subject_id=subject_id)
    uow.commit()
    return [HoldRead.model_validate(h) for h in holds]


@router.post("/legal-holds/{hold_id}/lift", response_model=HoldRead, dependencies=[requires(Role.CASEWORKER)])
def lift_hold(hold_id: uuid.UUID, data: HoldLift, uow: Uow) -> HoldRead:
    hold = service.lift_hold(uow=uow, hold_id=hold_id, data=data)
    uow.commit()
    return HoldRead.model_validate(hold)


@router.get("/retention/due", response_model=list[DueRead], dependencies=[requires(Role.AUDITOR)])
def retention_due(uow: Uow, container: ContainerDep) -> list[DueRead]:
    """What a retention run would delete now, and what legal holds keep."""
    items = service.plan(uow.session, scheduled.policy_of(container), uow.clock.now())
    uow.record(AuditAction.LIST, "retention_due", None, detail={"items": len(items)})
    uow.commit()
    return [DueRead(data_class=d.data_class, subject_id=d.subject_id, due_at=d.due_at, records=d.records,
                    held_by=d.held_by) for d in items]


@router.get("/retention/receipts", response_model=list[ReceiptRead], dependencies=[requires(Role.AUDITOR)])
def receipts(uow: Uow, subject_id: uuid.UUID | None = None) -> list[ReceiptRead]:
    items = service.list_receipts(uow=uow, subject_id=subject_id)
    uow.record(AuditAction.LIST, "deletion_receipt", None, detail={"items": len(items)})
    uow.commit()
    return [ReceiptRead.model_validate(r) for r in items]
