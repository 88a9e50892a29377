"""The unit of work: one transaction per use case, committed once, with its audit trail.

Writes to audited models are recorded automatically (any mapped class with `__audit_target__`);
so are officers' reads of models with `__audit_read__` (every row such a person's query loads,
written even when the route forgets to commit). Other reads of sensitive data are recorded with
`uow.record_read(...)`. Outbox messages go in the same
transaction, so a notification exists if and only if its change does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from custodes.actor import Actor
from custodes.audit import chain
from custodes.audit.models import AuditAction
from custodes.clock import Clock
from custodes.outbox.models import OutboxMessage


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock, audit_key: bytes,
                 actor: Actor) -> None:
        self._session_factory = session_factory
        self.clock = clock
        self._audit_key = audit_key
        self.actor = actor
        self._pending: list[chain.PendingEntry] = []
        self._reads: dict[tuple[str, str | None], None] = {}  # (target, id), in load order
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        event.listen(self.session, "after_flush", self._collect_writes)
        event.listen(self.session, "loaded_as_persistent", self._collect_read)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # close() ends any open transaction without committing it: nothing uncommitted survives,
        # while objects already loaded stay readable (detached) for the response. Reads that
        # happened are still recorded if the use case ended without commit and without error.
        try:
            if exc_type is None and self._has_pending_reads():
                self._commit_reads_only()
        finally:
            self._pending, self._reads = [], {}
            self.session.close()

    # -- audit ---------------------------------------------------------------------------------
    def record(self, action: AuditAction, target_type: str, target_id: Any = None, *,
               purpose: str | None = None, detail: dict[str, Any] | None = None) -> None:
        a = self.actor
        self._pending.append(chain.PendingEntry(
            at=self.clock.now(), actor_kind=a.kind, actor_id=a.id, actor_name=a.name, agency_id=a.agency_id,
            action=str(action), target_type=target_type, target_id=str(target_id) if target_id else None,
            purpose=purpose, detail=detail or {},
        ))

    def record_read(self, target_type: str, target_id: Any, *, purpose: str | None = None,
                    detail: dict[str, Any] | None = None) -> None:
        self.record(AuditAction.READ, target_type, target_id, purpose=purpose, detail=detail)

    def _collect_read(self, _session: Session, obj: Any) -> None:
        target = getattr(type(obj), "__audit_read__", None)
        if target is not None and self.actor.kind == "user":  # people reading, not the pipeline
            self._reads.setdefault((target, _identity(obj)), None)

    def _has_pending_reads(self) -> bool:
        return bool(self._reads) or any(e.action in _READS for e in self._pending)

    def _record_loaded(self) -> None:
        # A row the same unit of work also changes is covered by its write entry.
        written = {(e.target_type, e.target_id) for e in self._pending if e.action not in _READS}
        for target, ident in self._reads:
            if (target, ident) not in written:
                self.record_read(target, ident)
        self._reads = {}

    def _commit_reads_only(self) -> None:
        keep = [e for e in self._pending if e.action in _READS]
        self.session.rollback()  # uncommitted writes are dropped, as always; the reads are facts
        self._pending = keep
        self._record_loaded()
        chain.append(self.session, self._audit_key, self._pending)
        self._pending = []
        self.session.commit()

    def _collect_writes(self, session: Session, _ctx: Any) -> None:
        for obj, action in ([(o, AuditAction.CREATE) for o in session.new]
                            + [(o, AuditAction.UPDATE) for o in session.dirty]
                            + [(o, AuditAction.DELETE) for o in session.deleted]):
            target = getattr(type(obj), "__audit_target__", None)
            if target is None:
                continue
            detail: dict[str, Any] = {}
            if action is AuditAction.UPDATE:
                changed = sorted(a.key for a in inspect(obj).attrs if a.history.has_changes())
                if not changed:
                    continue
                detail["fields"] = changed
            self.record(action, target, _identity(obj), detail=detail)

    # -- outbox --------------------------------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.session.add(OutboxMessage(id=uuid.uuid4(), topic=topic, payload=payload, created_at=self.clock.now()))

    # -- transaction ---------------------------------------------------------------------------
    def commit(self) -> None:
        self.session.flush()
        self._record_loaded()
        chain.append(self.session, self._audit_key, self._pending)
        self._pending = []
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self._pending, self._reads = [], {}
        self.session.rollback()


def _identity(obj: Any) -> str | None:
    # Pending objects have no identity key yet inside after_flush; their primary key is set, though.
    ident = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(str(v) for v in ident if v is not None) or None


_READS = (str(AuditAction.READ), str(AuditAction.LIST))

UowFactory = Callable[[Actor], UnitOfWork]
