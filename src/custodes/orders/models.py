"""Orders and conditions, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, JSONType, UTCDateTime, new_id
from custodes.orders.conditions import ConditionSpec

OrderStatus = Literal["draft", "active", "suspended", "ended", "revoked"]
REVIEW_EVERY_DAYS = 90


class Order(Base):
    __tablename__ = "orders"
    __audit_target__ = "order"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    legal_basis: Mapped[str] = mapped_column(Text, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    review_every_days: Mapped[int] = mapped_column(Integer, nullable=False, default=REVIEW_EVERY_DAYS)
    next_review_due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    vulnerability_flags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    health_flags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    less_intrusive_options: Mapped[list[dict[str, str]]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Condition(Base):
    __tablename__ = "conditions"
    __audit_target__ = "condition"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Bumped by every edit in place: the pipeline's rule cache is keyed on (id, revision), and each
    # alert records the revision it was judged by.
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")


class NecessityRecord(Base):
    """Why monitoring this person is necessary and proportionate, written before activation.

    A new record supersedes the last (the latest one counts); the history stays for the DPIA."""

    __tablename__ = "necessity_records"
    __audit_target__ = "necessity_record"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    necessity: Mapped[str] = mapped_column(Text, nullable=False)
    proportionality: Mapped[str] = mapped_column(Text, nullable=False)
    vulnerability_and_health: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ReviewTrigger(Base):
    """Something that brought a review forward (medical evidence, a representation), with its reason."""

    __tablename__ = "review_triggers"
    __audit_target__ = "review_trigger"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    trigger: Mapped[str] = mapped_column(String(32), nullable=False)  # medical_evidence | representation
    source_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    previous_due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    new_due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlternativeConsidered(BaseModel):
    option: str = Field(min_length=3, max_length=500)
    reason_rejected: str = Field(min_length=3, max_length=2000)


class NecessityCreate(BaseModel):
    necessity: str = Field(min_length=10, max_length=5000, description="why monitoring is necessary for this person")
    proportionality: str = Field(min_length=10, max_length=5000,
                                 description="why its intrusion is proportionate to that need")
    vulnerability_and_health: str = Field(
        min_length=10, max_length=5000,
        description="how the vulnerability and health flags were assessed and weighed (also when there are none)")


class NecessityRead(NecessityCreate):
    id: uuid.UUID
    order_id: uuid.UUID
    recorded_at: datetime
    recorded_by: uuid.UUID | None
    model_config = {"from_attributes": True}


class EarlyReviewCreate(BaseModel):
    trigger: Literal["medical_evidence", "representation"]
    reason: str = Field(min_length=3, max_length=2000)


class ReviewTriggerRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    trigger: str
    source_id: uuid.UUID | None
    reason: str
    previous_due: datetime
    new_due: datetime
    at: datetime
    model_config = {"from_attributes": True}


class OrderCreate(BaseModel):
    legal_basis: str = Field(min_length=3, max_length=2000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    vulnerability_flags: list[str] = Field(default_factory=list)
    health_flags: list[str] = Field(default_factory=list)
    less_intrusive_options: list[AlternativeConsidered] = Field(
        min_length=1, description="the less intrusive options considered and why each was rejected")
    status: OrderStatus = "draft"
    necessity: NecessityCreate | None = Field(
        default=None, description="required before the order may be active (necessity and proportionality)")

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, v: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and v <= start:
            raise ValueError("end must be after start")
        return v


class OrderUpdate(BaseModel):
    legal_basis: str | None = Field(default=None, min_length=3, max_length=2000)
    ends_at: AwareDatetime | None = None
    vulnerability_flags: list[str] | None = None
    health_flags: list[str] | None = None
    less_intrusive_options: list[AlternativeConsidered] | None = Field(default=None, min_length=1)
    status: OrderStatus | None = None
    reviewed: bool = Field(default=False, description="record a completed quarterly review now")


class OrderRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    legal_basis: str
    starts_at: datetime
    ends_at: datetime
    review_every_days: int
    next_review_due: datetime
    vulnerability_flags: list[str]
    health_flags: list[str]
    less_intrusive_options: list[AlternativeConsidered]
    status: OrderStatus
    created_at: datetime
    model_config = {"from_attributes": True}


class ConditionCreate(BaseModel):
    spec: ConditionSpec


class ConditionRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    spec: dict[str, Any]
    created_at: datetime
    revision: int
    model_config = {"from_attributes": True}
