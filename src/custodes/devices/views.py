"""Routes for devices, barcode lookup and assignments."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Paging, Uow, requires
from custodes.devices import history, returns, service
from custodes.devices.history import DeviceEventRead
from custodes.devices.models import (
    AssignmentCreate,
    AssignmentEnd,
    AssignmentRead,
    DeviceCreate,
    DeviceIssued,
    DeviceKind,
    DeviceRead,
    DeviceStatus,
    DeviceUpdate,
)
from custodes.devices.returns import ReturnAnswer, ReturnScan
from custodes.devices.signing import SignedDevice
from custodes.pagination import Page

router = APIRouter(prefix="/v1", tags=["devices"])

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
KEEPERS = (Role.CASEWORKER, Role.ADMIN)


@router.post("/devices", response_model=DeviceIssued, status_code=201, dependencies=[requires(*KEEPERS)])
def register_device(data: DeviceCreate, uow: Uow, container: ContainerDep) -> DeviceIssued:
    device, secret = service.register(uow=uow, data=data, device_key=container.device_key)
    uow.commit()
    return DeviceIssued.model_validate(device).model_copy(update={"secret": secret})


@router.get("/devices", response_model=Page[DeviceRead], dependencies=[requires(*READERS)])
def list_devices(uow: Uow, paging: Paging, status: DeviceStatus | None = None,
                 kind: DeviceKind | None = None) -> Page[DeviceRead]:
    items, total = service.list_devices(uow=uow, limit=paging.limit, offset=paging.offset, status=status, kind=kind)
    return Page(items=[DeviceRead.model_validate(d) for d in items], total=total, **paging.model_dump())


@router.get("/devices/by-barcode/{barcode}", response_model=DeviceRead, dependencies=[requires(*READERS)])
def device_by_barcode(barcode: str, uow: Uow) -> DeviceRead:
    return DeviceRead.model_validate(service.by_barcode(uow=uow, barcode=barcode))


@router.get("/devices/{device_id}/ping", tags=["device API"])
def device_ping(device_id: uuid.UUID, device: SignedDevice, container: ContainerDep) -> dict[str, str]:
    """A device checks its credentials and clock (signed like every device request)."""
    return {"device_id": str(device.device_id), "server_time": container.clock.now().isoformat()}


@router.get("/devices/{device_id}", response_model=DeviceRead, dependencies=[requires(*READERS)])
def get_device(device_id: uuid.UUID, uow: Uow) -> DeviceRead:
    return DeviceRead.model_validate(service.load(uow=uow, device_id=device_id))


@router.patch("/devices/{device_id}", response_model=DeviceRead, dependencies=[requires(*KEEPERS)])
def update_device(device_id: uuid.UUID, data: DeviceUpdate, uow: Uow) -> DeviceRead:
    device = service.update(uow=uow, device_id=device_id, data=data)
    uow.commit()
    return DeviceRead.model_validate(device)


@router.post("/devices/{device_id}/secret", response_model=DeviceIssued, dependencies=[requires(*KEEPERS)])
def rotate_device_secret(device_id: uuid.UUID, uow: Uow, container: ContainerDep) -> DeviceIssued:
    device, secret = service.rotate_secret(uow=uow, device_id=device_id, device_key=container.device_key)
    uow.commit()
    return DeviceIssued.model_validate(device).model_copy(update={"secret": secret})


@router.post("/devices/{device_id}/assignments", response_model=AssignmentRead, status_code=201,
             dependencies=[requires(Role.CASEWORKER)])
def assign_device(device_id: uuid.UUID, data: AssignmentCreate, uow: Uow) -> AssignmentRead:
    row = service.assign(uow=uow, device_id=device_id, data=data)
    uow.commit()
    return AssignmentRead.model_validate(row)


@router.get("/assignments/{assignment_id}", response_model=AssignmentRead, dependencies=[requires(*READERS)])
def get_assignment(assignment_id: uuid.UUID, uow: Uow) -> AssignmentRead:
    return AssignmentRead.model_validate(service.load_assignment(uow=uow, assignment_id=assignment_id))


@router.post("/assignments/{assignment_id}/end", response_model=AssignmentRead,
             dependencies=[requires(Role.CASEWORKER)])
def end_assignment(assignment_id: uuid.UUID, data: AssignmentEnd, uow: Uow) -> AssignmentRead:
    row = service.end_assignment(uow=uow, assignment_id=assignment_id, data=data)
    uow.commit()
    return AssignmentRead.model_validate(row)


@router.get("/subjects/{subject_id}/assignments", response_model=list[AssignmentRead],
            dependencies=[requires(*READERS)])
def subject_assignments(subject_id: uuid.UUID, uow: Uow) -> list[AssignmentRead]:
    return [AssignmentRead.model_validate(a) for a in service.assignments_of_subject(uow=uow, subject_id=subject_id)]


@router.get("/devices/{device_id}/history", response_model=list[DeviceEventRead], dependencies=[requires(*READERS)])
def device_history(device_id: uuid.UUID, uow: Uow) -> list[DeviceEventRead]:
    """Every state change of the device, newest first, with who made it and why."""
    device = service.load(uow=uow, device_id=device_id)
    return [DeviceEventRead.model_validate(e) for e in history.history(uow, device)]


@router.post("/device-returns", response_model=ReturnAnswer, dependencies=[requires(*KEEPERS)])
def return_device(data: ReturnScan, uow: Uow) -> ReturnAnswer:
    """A scanned return: with `confirm: false` it only says what it would do; with `confirm: true`
    it ends the active assignment and marks the device returned (or faulty)."""
    answer = returns.scan_return(uow=uow, data=data)
    if answer.done:
        uow.commit()
    return answer
