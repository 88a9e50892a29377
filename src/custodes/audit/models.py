"""Audit entries, the chain head, and the fixed set of actions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, JSONType, UTCDateTime


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"
    LIST = "list"
    EXPORT = "export"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    DECIDE = "decide"
    REFUSE = "refuse"  # an access the rules did not allow, recorded in its own transaction


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target_type: Mapped[str] = mapped_column(String(64), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    purpose: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    """The latest seq and hash, so that deleting entries from the end is detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditCheckpoint(Base):
    """Entries up to `seq` were pruned by retention; the chain continues from `hash`.

    `signature` is an HMAC under the audit key over (seq, hash, pruned_before, made_at), so someone
    holding only the database cannot move a checkpoint forward to hide the entries after it."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    pruned_before: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditEntryRead(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    actor_name: str | None
    agency_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    purpose: str | None
    detail: dict[str, Any]
    hash: str

    model_config = {"from_attributes": True}
