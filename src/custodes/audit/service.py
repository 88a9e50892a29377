"""Reading the audit log (auditors) and verifying its chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

from custodes.audit import chain
from custodes.audit.models import AuditAction, AuditEntry
from custodes.pagination import paged
from custodes.uow import UnitOfWork


def list_entries(*, uow: UnitOfWork, limit: int, offset: int, target_type: str | None = None,
                 target_id: str | None = None, actor_id: str | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> tuple[list[AuditEntry], int]:
    q = select(AuditEntry).order_by(AuditEntry.seq.desc())
    for column, value in ((AuditEntry.target_type, target_type), (AuditEntry.target_id, target_id),
                          (AuditEntry.actor_id, actor_id)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if until is not None:
        q = q.where(AuditEntry.at < until)
    items, total = paged(uow.session, q, limit, offset)
    # Reading the log is itself recorded: who watched the watchers.
    uow.record(AuditAction.LIST, "audit_entry", None,
               detail={"filter": {"target_type": target_type, "target_id": target_id, "actor_id": actor_id}})
    return items, total


def verify(*, uow: UnitOfWork, audit_key: bytes,
           anchored: dict[int, str] | None = None) -> Iterator[int | chain.ChainFault]:
    return chain.verify(uow.session, audit_key, anchored=anchored)
