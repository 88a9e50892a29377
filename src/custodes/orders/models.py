"""Orders and conditions, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.bounds import Instant
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


class AlternativeConsidered(BaseModel):
    option: str = Field(min_length=3, max_length=500)
    reason_rejected: str = Field(min_length=3, max_length=2000)


class OrderCreate(BaseModel):
    legal_basis: str = Field(min_length=3, max_length=2000)
    starts_at: Instant
    ends_at: Instant
    vulnerability_flags: list[str] = Field(default_factory=list)
    health_flags: list[str] = Field(default_factory=list)
    less_intrusive_options: list[AlternativeConsidered] = Field(
        min_length=1, description="the less intrusive options considered and why each was rejected")
    status: OrderStatus = "draft"

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, v: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and v <= start:
            raise ValueError("end must be after start")
        return v


class OrderUpdate(BaseModel):
    legal_basis: str | None = Field(default=None, min_length=3, max_length=2000)
    ends_at: Instant | None = None
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
    model_config = {"from_attributes": True}
