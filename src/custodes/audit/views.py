"""Routes for auditors: read the log and check its chain."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Paging, Uow, requires
from custodes.audit import anchors, chain, service
from custodes.audit.models import AuditEntryRead
from custodes.bounds import Instant
from custodes.pagination import Page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class ChainReport(BaseModel):
    ok: bool
    entries_checked: int
    checkpoints_checked: int = 0
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
    """The chain, and every signed checkpoint in the server's checkpoint file (when it has one)."""
    path = anchors.default_path(container.settings.home)
    anchored: dict[int, str] = {}
    if path.is_file():
        try:
            public = anchors.signing_key(container.settings.key_dir).public_key()
            anchored = anchors.expected_hashes(anchors.read(path, public))
        except anchors.AnchorError as exc:
            return ChainReport(ok=False, entries_checked=0, reason=str(exc))
    checked = 0
    for item in service.verify(uow=uow, audit_key=container.audit_key, anchored=anchored):
        if isinstance(item, chain.ChainFault):
            return ChainReport(ok=False, entries_checked=checked, first_bad_seq=item.seq, reason=item.reason,
                               checkpoints_checked=len(anchored))
        checked += 1
    return ChainReport(ok=True, entries_checked=checked, checkpoints_checked=len(anchored))
