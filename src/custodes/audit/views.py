"""Routes for auditors: read the log and check its chain."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from custodes.access.actor import Role
from custodes.access.deps import ContainerDep, Paging, Uow, requires
from custodes.audit import chain, service
from custodes.audit.models import AuditEntryRead
from custodes.bounds import Instant
from custodes.pagination import Page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class ChainReport(BaseModel):
    ok: bool
    entries_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


@router.get("/entries", response_model=Page[AuditEntryRead], dependencies=[requires(Role.AUDITOR)])
def list_entries(uow: Uow, paging: Paging, target_type: str | None = None, target_id: str | None = None,
                 actor_id: str | None = None, since: Instant | None = None,
                 until: Instant | None = None) -> Page[AuditEntryRead]:
    items, total = service.list_entries(uow=uow, limit=paging.limit, offset=paging.offset, target_type=target_type,
                                        target_id=target_id, actor_id=actor_id, since=since, until=until)
    uow.commit()
    return Page(items=[AuditEntryRead.model_validate(e) for e in items], total=total, **paging.model_dump())


@router.get("/verify", response_model=ChainReport, dependencies=[requires(Role.AUDITOR)])
def verify_chain(uow: Uow, container: ContainerDep) -> ChainReport:
    checked = 0
    for item in service.verify(uow=uow, audit_key=container.audit_key):
        if isinstance(item, chain.ChainFault):
            return ChainReport(ok=False, entries_checked=checked, first_bad_seq=item.seq, reason=item.reason)
        checked += 1
    return ChainReport(ok=True, entries_checked=checked)
