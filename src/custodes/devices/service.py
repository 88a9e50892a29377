"""Use cases on devices and assignments. Devices are scoped to the agency that holds them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select

from custodes.devices import history, signing
from custodes.devices.models import (
    Assignment,
    AssignmentCreate,
    AssignmentEnd,
    Device,
    DeviceCreate,
    DeviceUpdate,
)
from custodes.errors import Conflict, Invalid, NotFound
from custodes.pagination import paged
from custodes.proximity.models import ProtectedPerson
from custodes.subjects import service as subjects
from custodes.uow import UnitOfWork

UNASSIGNABLE = ("lost", "faulty")


def load(*, uow: UnitOfWork, device_id: uuid.UUID) -> Device:
    device = uow.session.scalars(select(Device).where(Device.id == device_id, _scope(uow))).first()
    if device is None:
        raise NotFound(f"device {device_id} not found")
    return device


def _scope(uow: UnitOfWork):
    return Device.id.is_not(None) if uow.actor.kind == "system" else Device.agency_id == uow.actor.agency_id


def by_barcode(*, uow: UnitOfWork, barcode: str) -> Device:
    device = uow.session.scalars(select(Device).where(Device.barcode == barcode, _scope(uow))).first()
    if device is None:
        raise NotFound(f"no device with barcode {barcode!r}")
    return device


def list_devices(*, uow: UnitOfWork, limit: int, offset: int, status: str | None = None,
                 kind: str | None = None) -> tuple[list[Device], int]:
    q = select(Device).where(_scope(uow)).order_by(Device.serial)
    if status:
        q = q.where(Device.status == status)
    if kind:
        q = q.where(Device.kind == kind)
    return paged(uow.session, q, limit, offset)


def register(*, uow: UnitOfWork, data: DeviceCreate, device_key: bytes) -> tuple[Device, str]:
    for field, value in (("serial", data.serial), ("barcode", data.barcode)):
        if uow.session.scalars(select(Device).where(getattr(Device, field) == value)).first():
            raise Conflict(f"a device with {field} {value!r} already exists")
    device = Device(id=uuid.uuid4(), agency_id=uow.actor.agency_id, status="in_stock",
                    created_at=uow.clock.now(), **data.model_dump())
    secret = _issue_secret(device, device_key)
    uow.session.add(device)
    history.move(uow, device, "in_stock", "registered", new=True)
    return device, secret


def rotate_secret(*, uow: UnitOfWork, device_id: uuid.UUID, device_key: bytes) -> tuple[Device, str]:
    device = load(uow=uow, device_id=device_id)
    return device, _issue_secret(device, device_key)


def _issue_secret(device: Device, device_key: bytes) -> str:
    secret = signing.new_secret()
    device.secret_sealed = signing.seal(device_key, device.id, secret)
    device.secret_fingerprint = signing.fingerprint(secret)
    return secret


def update(*, uow: UnitOfWork, device_id: uuid.UUID, data: DeviceUpdate) -> Device:
    device = load(uow=uow, device_id=device_id)
    if data.status == "issued" and active_assignment(uow=uow, device_id=device.id, at=uow.clock.now()) is None:
        raise Invalid.field("status", "a device becomes issued by assigning it to a subject")
    if data.status != device.status:
        history.move(uow, device, data.status, data.reason or f"marked {data.status.replace('_', ' ')}")
    return device


def active_assignment(*, uow: UnitOfWork, device_id: uuid.UUID, at: datetime) -> Assignment | None:
    """The assignment covering `at`, if any (used by telemetry to find whose fix this is)."""
    return uow.session.scalars(select(Assignment).where(
        Assignment.device_id == device_id, Assignment.starts_at <= at,
        or_(Assignment.ends_at.is_(None), Assignment.ends_at > at))).first()


def assign(*, uow: UnitOfWork, device_id: uuid.UUID, data: AssignmentCreate) -> Assignment:
    device = load(uow=uow, device_id=device_id)
    subject = subjects.load(uow=uow, subject_id=data.subject_id, for_change=True)
    if device.status in UNASSIGNABLE:
        raise Conflict(f"device is {device.status} and cannot be assigned")
    # Locked, as a protected person's registration locks it: one of the two sees the other.
    uow.session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    if uow.session.scalar(select(ProtectedPerson.id).where(ProtectedPerson.device_id == device.id)) is not None:
        # Its batches go to the protected person's one position, never to a trail: worn by nobody.
        raise Conflict("this device is a protected person's phone and cannot be assigned")
    overlap = or_(Assignment.ends_at.is_(None), Assignment.ends_at > data.starts_at)
    if data.ends_at is not None:
        overlap = and_(overlap, Assignment.starts_at < data.ends_at)
    if uow.session.scalars(select(Assignment).where(Assignment.device_id == device.id, overlap)).first():
        raise Conflict("the device is already assigned during that time")
    row = Assignment(id=uuid.uuid4(), device_id=device.id, subject_id=subject.id, starts_at=data.starts_at,
                     ends_at=data.ends_at, created_at=uow.clock.now())
    uow.session.add(row)
    history.move(uow, device, "issued", "assigned", subject_id=subject.id)
    return row


def load_assignment(*, uow: UnitOfWork, assignment_id: uuid.UUID, for_change: bool = False) -> Assignment:
    row = uow.session.get(Assignment, assignment_id)
    try:
        if row is None:
            raise NotFound("")
        subjects.load(uow=uow, subject_id=row.subject_id, for_change=for_change)
    except NotFound:
        raise NotFound(f"assignment {assignment_id} not found") from None
    return row


def end_assignment(*, uow: UnitOfWork, assignment_id: uuid.UUID, data: AssignmentEnd) -> Assignment:
    row = load_assignment(uow=uow, assignment_id=assignment_id, for_change=True)
    device = load(uow=uow, device_id=row.device_id)
    if data.ends_at <= row.starts_at:
        raise Invalid.field("ends_at", "end must be after start")
    if row.ends_at is not None and row.ends_at <= data.ends_at:
        raise Conflict("the assignment has already ended")
    row.ends_at = data.ends_at
    history.move(uow, device, data.device_status, "assignment ended", subject_id=row.subject_id)
    return row


def assignments_of_subject(*, uow: UnitOfWork, subject_id: uuid.UUID) -> list[Assignment]:
    subject = subjects.load(uow=uow, subject_id=subject_id)
    return list(uow.session.scalars(select(Assignment).where(Assignment.subject_id == subject.id)
                                    .order_by(Assignment.starts_at.desc())))
