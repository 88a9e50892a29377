"""Devices, assignments and seen nonces, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.bounds import Instant
from custodes.db import Base, UTCDateTime, new_id

DeviceKind = Literal["ankle_tag", "smartwatch", "wristband", "phone"]  # phone: a protected person's own
DeviceStatus = Literal["in_stock", "issued", "returned", "lost", "faulty"]


class Device(Base):
    __tablename__ = "devices"
    __audit_target__ = "device"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    serial: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    barcode: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="in_stock")
    # The signing secret, sealed with the server's device key (AES-GCM); see signing.py for why.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_fingerprint: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Assignment(Base):
    __tablename__ = "assignments"
    __audit_target__ = "assignment"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), nullable=False, index=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeviceChange(Base):
    """A device whose credentials or order start may have changed; written by triggers (migration
    1430), read by every process's credential cache (`devices.credentials`) to know what to forget."""

    __tablename__ = "device_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)


class DeviceNonce(Base):
    """Nonces seen within the freshness window; a second use is a replay."""

    __tablename__ = "device_nonces"
    __table_args__ = (UniqueConstraint("device_id", "nonce"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class DeviceCreate(BaseModel):
    kind: DeviceKind
    serial: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    barcode: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class DeviceUpdate(BaseModel):
    status: DeviceStatus
    reason: str | None = Field(default=None, min_length=3, max_length=2000,
                               description="why (kept in the device's history)")


class DeviceRead(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    kind: DeviceKind
    serial: str
    barcode: str
    status: DeviceStatus
    secret_fingerprint: str | None
    created_at: datetime
    model_config = {"from_attributes": True}


class DeviceIssued(DeviceRead):
    secret: str | None = Field(default=None, description="shown once, at registration or rotation")


class AssignmentCreate(BaseModel):
    subject_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant | None = None

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("starts_at")
        if v is not None and start is not None and v <= start:
            raise ValueError("end must be after start")
        return v


class AssignmentEnd(BaseModel):
    ends_at: Instant
    device_status: DeviceStatus = "returned"


class AssignmentRead(BaseModel):
    id: uuid.UUID
    device_id: uuid.UUID
    subject_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    model_config = {"from_attributes": True}
