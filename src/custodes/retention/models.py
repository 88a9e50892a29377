"""Legal holds and deletion receipts, with their API shapes.

Neither table has a foreign key to `subjects`: both must outlive the subject record they name.
A receipt holds no personal data beyond the subject id (class, count, when, under which policy).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id
from custodes.retention.policy import DataClass


class LegalHold(Base):
    """Pauses deletion of one subject's data (one class, or every class when `data_class` is null)."""

    __tablename__ = "legal_holds"
    __audit_target__ = "legal_hold"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    data_class: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    placed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)


class DeletionReceipt(Base):
    """What one retention run deleted of one class for one subject (null subject: the audit log).

    Updated in the same transaction as each batch it deletes, so the count is exact even if the run
    stops half-way; `completed_at` is set when the class is gone."""

    __tablename__ = "deletion_receipts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    data_class: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    records: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    policy: Mapped[str] = mapped_column(String(64), nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- API shapes --------------------------------------------------------------------------------
class HoldCreate(BaseModel):
    data_class: DataClass | None = Field(default=None, description="null: every class of this subject")
    reason: str = Field(min_length=5, max_length=2000, description="the named reason, e.g. the proceedings")


class HoldLift(BaseModel):
    reason: str = Field(min_length=5, max_length=2000)


class HoldRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    data_class: DataClass | None
    reason: str
    placed_by: uuid.UUID | None
    placed_at: datetime
    lifted_by: uuid.UUID | None
    lifted_at: datetime | None
    lift_reason: str | None
    model_config = {"from_attributes": True}


class ReceiptRead(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID
    data_class: DataClass
    subject_id: uuid.UUID | None
    records: int
    policy: str
    due_at: datetime
    started_at: datetime
    completed_at: datetime | None
    model_config = {"from_attributes": True}


class DueRead(BaseModel):
    """One class of one subject that is due (or held) now."""

    data_class: DataClass
    subject_id: uuid.UUID | None
    due_at: datetime
    records: int
    held_by: list[uuid.UUID]
