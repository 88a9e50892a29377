"""Routes for face enrolment (officers) and check-in prompts and submissions (signed devices)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Paging, Uow, requires
from custodes.biometrics.image_input import MAX_UPLOAD_BYTES
from custodes.checkins import enrolment, service, submission
from custodes.checkins.face_store import face_keys
from custodes.checkins.models import (
    CheckInRead,
    EnrolmentRead,
    PendingRead,
    SubmissionRead,
)
from custodes.checkins.upload import MAX_FRAMES, PhotoRefused
from custodes.devices.signing import SignedDevice
from custodes.errors import Invalid
from custodes.subjects.service import load as load_subject

router = APIRouter(prefix="/v1", tags=["check-ins"])

ENROLLERS = (Role.CASEWORKER,)
FACE_VIEWERS = (Role.CASEWORKER, Role.REVIEWER)  # probation, police and auditors never see faces
READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
Purpose = Annotated[str, Query(min_length=3, max_length=200, description="why this face is being looked at")]


def _read(upload: FormFile, field: str) -> bytes:
    """Read at most the cap (plus one byte, to know it was exceeded) without trusting the client's size."""
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(field, "too_large", f"the photo is larger than {MAX_UPLOAD_BYTES // 1024} KiB", status=413)
    return data


@router.post("/subjects/{subject_id}/face/enrolments", response_model=EnrolmentRead, status_code=201,
             dependencies=[requires(*ENROLLERS)])
def enrol_face(subject_id: uuid.UUID, photos: Annotated[list[UploadFile], File()], uow: Uow,
               container: ContainerDep) -> EnrolmentRead:
    """Enrol (or re-enrol) a subject's face from 3 to 5 reference photos (JPEG or PNG), each quality-checked."""
    from custodes.biometrics import get_engine

    data = [_read(p, f"photos[{i}]") for i, p in enumerate(photos)]
    made = enrolment.enrol(uow=uow, keys=face_keys(container), engine=get_engine(), subject_id=subject_id,
                           photos=data)
    uow.commit()
    return EnrolmentRead.model_validate(made)


@router.get("/subjects/{subject_id}/face/enrolments", response_model=list[EnrolmentRead],
            dependencies=[requires(*FACE_VIEWERS)])
def list_face_enrolments(subject_id: uuid.UUID, uow: Uow) -> list[EnrolmentRead]:
    rows = enrolment.list_enrolments(uow=uow, subject_id=subject_id)
    uow.commit()
    return [EnrolmentRead.model_validate(r) for r in rows]


@router.delete("/subjects/{subject_id}/face/enrolments/{enrolment_id}", response_model=EnrolmentRead,
               dependencies=[requires(*ENROLLERS)])
def delete_face_enrolment(subject_id: uuid.UUID, enrolment_id: uuid.UUID, uow: Uow,
                          reason: Annotated[str, Query(min_length=3, max_length=500)]) -> EnrolmentRead:
    """Wipe a template and its reference photos; the record of who, when and why remains."""
    row = enrolment.delete_enrolment(uow=uow, subject_id=subject_id, enrolment_id=enrolment_id, reason=reason)
    uow.commit()
    return EnrolmentRead.model_validate(row)


@router.get("/subjects/{subject_id}/face/photos/{photo_id}", dependencies=[requires(*FACE_VIEWERS)],
            response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def face_photo(subject_id: uuid.UUID, photo_id: uuid.UUID, purpose: Purpose, uow: Uow,
               container: ContainerDep) -> Response:
    """A reference photo; the read is recorded in the audit log with its purpose."""
    data, kind = enrolment.reference_photo(uow=uow, keys=face_keys(container), subject_id=subject_id,
                                           photo_id=photo_id, purpose=purpose)
    uow.commit()
    return Response(data, media_type=kind, headers={"Cache-Control": "no-store"})


@router.get("/subjects/{subject_id}/checkins", response_model=list[CheckInRead], dependencies=[requires(*READERS)])
def list_checkins(subject_id: uuid.UUID, uow: Uow, paging: Paging) -> list[CheckInRead]:
    rows = service.list_checkins(uow=uow, subject=load_subject(uow=uow, subject_id=subject_id),
                                 limit=paging.limit, offset=paging.offset)
    uow.commit()
    return rows


@router.get("/devices/{device_id}/checkins/pending", response_model=PendingRead, tags=["device API"])
def pending_checkin(device_id: uuid.UUID, device: SignedDevice, container: ContainerDep) -> PendingRead:
    """The prompt open now (null if none), its deadline and a liveness challenge to perform."""
    with container.uow(device.actor) as uow:
        answer = service.pending(uow=uow, device_id=device.device_id)
        uow.commit()
    return answer


SUBMISSION_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["photo"],
    "properties": {"photo": {"type": "string", "format": "binary", "description": "frontal face photo, JPEG or PNG"},
                   "frames": {"type": "array", "items": {"type": "string", "format": "binary"},
                              "description": "challenge frames, in order, while performing the challenge"}}}}}}}


@router.post("/devices/{device_id}/checkins/{prompt_id}", response_model=SubmissionRead, tags=["device API"],
             openapi_extra=SUBMISSION_BODY)
async def submit_checkin(device_id: uuid.UUID, prompt_id: uuid.UUID, request: Request, device: SignedDevice,
                         container: ContainerDep) -> SubmissionRead:
    """Answer a prompt with a photo and the challenge frames; the decision is recorded, and
    anything but `verified` goes to a human reviewer."""
    # The form is parsed here, after the signature check has read (and cached) the raw body: a
    # File() parameter would make FastAPI consume the stream before the signature could be checked.
    form = await request.form(max_files=1 + MAX_FRAMES + 1, max_fields=0)
    photo = form.get("photo")
    if not isinstance(photo, FormFile):
        raise Invalid.field("photo", "send the photo as a multipart file field named photo")
    frames = [f for f in form.getlist("frames") if isinstance(f, FormFile)]
    photo_bytes = _read(photo, "photo")
    frame_bytes = [_read(f, f"frames[{i}]") for i, f in enumerate(frames)]

    def run() -> SubmissionRead:
        # submission opens its own short units of work around the face work
        return submission.submit(container=container, actor=device.actor, keys=face_keys(container),
                                 device_id=device.device_id, prompt_id=prompt_id, photo=photo_bytes,
                                 frames=frame_bytes)

    return await run_in_threadpool(run)
