"""A device's life as an asset: every state change (in stock, issued, returned, lost, faulty) with
who made it, when and why, so store staff and auditors can answer "where has this tag been"."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, Text, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id
from custodes.devices.models import Device
from custodes.uow import UnitOfWork


class DeviceEvent(Base):
    __tablename__ = "device_events"
    __audit_target__ = "device_event"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), nullable=False,
                                                 index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class DeviceEventRead(BaseModel):
    id: uuid.UUID
    device_id: uuid.UUID
    from_status: str | None
    to_status: str
    at: datetime
    actor_name: str | None
    reason: str
    subject_id: uuid.UUID | None
    model_config = {"from_attributes": True}


def move(uow: UnitOfWork, device: Device, to_status: str, reason: str, *, subject_id: uuid.UUID | None = None,
         new: bool = False) -> DeviceEvent:
    """The one way a device changes state: the status and its history row change together."""
    a = uow.actor
    event = DeviceEvent(id=uuid.uuid4(), device_id=device.id, from_status=None if new else device.status,
                        to_status=to_status, at=uow.clock.now(), actor_kind=a.kind, actor_id=a.id,
                        actor_name=a.name, reason=reason, subject_id=subject_id)
    device.status = to_status
    if new:  # no ORM relationship orders the inserts: the device row must exist first
        uow.session.flush()
    uow.session.add(event)
    return event


def history(uow: UnitOfWork, device: Device) -> list[DeviceEvent]:
    return list(uow.session.scalars(select(DeviceEvent).where(DeviceEvent.device_id == device.id)
                                    .order_by(DeviceEvent.at.desc(), DeviceEvent.id)))
