"""Per-device adapter credentials (off by default) and their API shapes.

Neither Traccar Client nor OwnTracks can sign a request, so a device that uses one gets credentials
of its own instead: an unguessable token (OsmAnd puts it in the URL as the device identifier) or a
username and password (OwnTracks HTTP Basic, and the MQTT topic `owntracks/{user}/{device}`). The
server generates them with 256 bits of entropy and shows them once; the database keeps only an
HMAC digest (a slow password hash buys nothing against secrets nobody chose). OwnTracks' optional
payload encryption key is needed to decrypt, so it is sealed under the device key, like device secrets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db.base import Base, UTCDateTime

Protocol = Literal["osmand", "owntracks"]


class DeviceAdapter(Base):
    __tablename__ = "device_adapters"
    __audit_target__ = "device_adapter"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(16), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # OsmAnd: digest of the URL token. OwnTracks: the username, and the digest of its password.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_digest: Mapped[str | None] = mapped_column(String(64))
    payload_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AdapterEnable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol: Protocol
    encrypted: bool = False  # OwnTracks only: issue a payload encryption key as well


class AdapterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    device_id: uuid.UUID
    protocol: Protocol
    enabled: bool
    username: str | None = None
    encrypted: bool = False
    created_at: datetime
    updated_at: datetime


class AdapterIssued(AdapterRead):
    """Shown once: what to type into the phone app."""

    token: str | None = None
    password: str | None = None
    encryption_key: str | None = None
    setup: dict[str, str] = {}
