"""The alert table and its API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, JSONType, UTCDateTime, new_id

AlertStatus = Literal["open", "acknowledged", "resolved"]
AlertCategory = Literal["breach", "device_fault", "integrity", "check_in", "casework"]
Severity = Literal["low", "medium", "high", "critical"]
Outcome = Literal["breach_confirmed", "device_fault", "false_alarm", "explained"]
BREACH_CONFIRMED = "breach_confirmed"  # the adverse outcome, named once so that readers (reports) need no literal
# What each outcome means to the officer choosing it (the console shows these words).
OUTCOME_WORDS = {"breach_confirmed": "Breach confirmed", "false_alarm": "No breach (false alarm)",
                 "device_fault": "Device fault", "explained": "Explained (permitted absence or known cause)"}


class Alert(Base):
    __tablename__ = "alerts"
    __audit_target__ = "alert"
    __audit_read__ = "alert"  # evidence holds positions: every officer's read is recorded (uow)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertRead(BaseModel):
    id: uuid.UUID
    dedupe_key: str
    subject_id: uuid.UUID
    kind: str
    category: AlertCategory
    severity: Severity
    status: AlertStatus
    evidence: dict[str, Any]
    occurred_at: datetime
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    outcome: Outcome | None
    reason: str | None
    assigned_to: uuid.UUID | None = None
    assigned_at: datetime | None = None
    model_config = {"from_attributes": True}


class AlertResolve(BaseModel):
    outcome: Outcome
    reason: str = Field(min_length=3, max_length=2000)


class AlertAssign(BaseModel):
    officer_id: uuid.UUID | None = Field(description="an officer of your agency who handles alerts; null to unassign")
