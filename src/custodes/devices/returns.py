"""Returning a device at the store: scan its barcode, see whose it is, confirm, and its assignment ends.

Two steps on purpose: a scan alone changes nothing (a mis-scan must not end someone's monitoring);
only the confirmation does, and it says exactly what it ended.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from custodes.devices import history
from custodes.devices import service as devices
from custodes.devices.models import AssignmentRead, DeviceRead
from custodes.errors import Conflict
from custodes.subjects import service as subjects
from custodes.uow import UnitOfWork

AT_REST = ("in_stock", "returned")


class ReturnScan(BaseModel):
    barcode: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    confirm: bool = Field(default=False, description="false: only say what a return would do; true: do it")
    faulty: bool = Field(default=False, description="the device came back damaged or not working")
    reason: str | None = Field(default=None, min_length=3, max_length=2000)


class ReturnAnswer(BaseModel):
    done: bool
    message: str
    device: DeviceRead
    assignment: AssignmentRead | None
    subject_id: uuid.UUID | None
    subject_name: str | None


def scan_return(*, uow: UnitOfWork, data: ReturnScan) -> ReturnAnswer:
    device = devices.by_barcode(uow=uow, barcode=data.barcode)
    now = uow.clock.now()
    assignment = devices.active_assignment(uow=uow, device_id=device.id, at=now)
    subject = subjects.load(uow=uow, subject_id=assignment.subject_id) if assignment else None
    if assignment is None and device.status in AT_REST:
        raise Conflict(f"device {device.serial} is already {device.status.replace('_', ' ')}: nothing to return")
    target = "faulty" if data.faulty else "returned"
    whose = f" from {subject.full_name}" if subject else ""
    if not data.confirm:
        ends = f"end its assignment{whose} now and " if assignment else ""
        return ReturnAnswer(done=False, message=f"Confirm to {ends}mark {device.serial} as {target}.",
                            device=DeviceRead.model_validate(device),
                            assignment=AssignmentRead.model_validate(assignment) if assignment else None,
                            subject_id=subject.id if subject else None,
                            subject_name=subject.full_name if subject else None)
    reason = data.reason or "returned at the store (scanned)"
    if assignment is not None:
        subjects.load(uow=uow, subject_id=assignment.subject_id, for_change=True)  # owning agency only
        assignment.ends_at = now
    history.move(uow, device, target, reason, subject_id=subject.id if subject else None)
    ended = f"Assignment{whose} ended; " if assignment else ""
    return ReturnAnswer(done=True, message=f"{ended}{device.serial} is now {target}.",
                        device=DeviceRead.model_validate(device),
                        assignment=AssignmentRead.model_validate(assignment) if assignment else None,
                        subject_id=subject.id if subject else None,
                        subject_name=subject.full_name if subject else None)
