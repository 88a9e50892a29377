"""Routes: device uploads (signed by the device) and trail reads (audited, with a purpose)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Uow, requires
from custodes.subjects.scope import subject_visible
from custodes.audit.models import AuditAction
from custodes.bounds import Instant
from custodes.devices.signing import H_SIGNATURE, SignedDevice, replay_idempotent
from custodes.errors import DomainError, Forbidden, Invalid, NotFound
from custodes.grants import service as grants
from custodes.grants.models import PolicePurpose, TrailPurpose
from custodes.subjects.models import Subject
from custodes.telemetry import service, trail

MAX_BODY = 4 * 1024 * 1024  # 10,000 items of about 120 bytes, with room to spare
MAX_WINDOW = timedelta(days=31)
TRAIL_READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.POLICE)
NDJSON = "application/x-ndjson"


class TooLarge(DomainError):
    status, kind, title = 413, "payload-too-large", "Payload too large"


router = APIRouter(prefix="/v1", tags=["telemetry"])


@router.post("/devices/{device_id}/telemetry", status_code=202,
             responses={202: {"description": "stored; processing follows"}})
@replay_idempotent  # by the signed sequence number: a replayed upload stores nothing
async def upload_telemetry(device_id: uuid.UUID, request: Request, device: SignedDevice,
                           container: ContainerDep) -> JSONResponse:
    """A batch of up to 10,000 fixes and status reports, signed by the device itself."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge(f"batch body over {MAX_BODY} bytes")
    ndjson = request.headers.get("content-type", "").split(";")[0].strip() == NDJSON
    upload = await run_in_threadpool(
        service.prepare, container, device_id=device.device_id, body=body, ndjson=ndjson, channel="http",
        signature=request.headers.get(H_SIGNATURE, ""), fixes_from=device.fixes_from)
    # Answered once the upload's group has committed; no thread waits meanwhile.
    result = await asyncio.wrap_future(service.submit(container, upload))
    runner = getattr(request.app.state, "telemetry_runner", None)
    if runner is not None:
        runner.wake()
    return JSONResponse(result.to_dict(), status_code=202)


@router.get("/subjects/{subject_id}/trail", dependencies=[requires(*TRAIL_READERS)],
            responses={200: {"content": {"application/geo+json": {}, "text/csv": {}}}})
def subject_trail(
    subject_id: uuid.UUID, uow: Uow, container: ContainerDep,
    from_: Annotated[Instant, Query(alias="from")],
    to: Instant,
    purpose: Annotated[TrailPurpose, Query(description="why this trail is read (audited)")],
    purpose_detail: Annotated[str, Query(min_length=3, max_length=500, description="case reference, alert, ...")],
    grant_id: Annotated[uuid.UUID | None, Query(description="police only: the grant this read is made under")] = None,
    format: Literal["geojson", "csv"] = "geojson",
):
    """Every fix of one subject in [from, to), each with its accuracy. The read is audited with its purpose;
    police read only under an approved, unexpired grant covering the subject, purpose and window."""
    if to <= from_:
        raise Invalid.field("to", "must be after from")
    if to - from_ > MAX_WINDOW:
        raise Invalid.field("to", f"a trail window is at most {MAX_WINDOW.days} days")
    audit = {"role": str(uow.actor.role), "purpose_detail": purpose_detail,
             "from": from_.isoformat(), "to": to.isoformat()}
    if uow.actor.role is Role.POLICE:
        try:
            grant = grants.authorise_police_read(uow=uow, grant_id=grant_id, subject_id=subject_id,
                                                 purpose=str(purpose), t_from=from_, t_to=to)
        except grants.ReadRefused as refused:
            # The refusal outlives this request's rolled-back transaction: its own unit of work (after
            # ending this one, which on SQLite holds the write lock).
            uow.rollback()
            with container.uow(uow.actor) as record:
                record.record(AuditAction.REFUSE, "trail", subject_id, purpose=str(purpose),
                              detail={**audit, "grant_id": str(grant_id) if grant_id else None,
                                      "reason": refused.detail})
                record.commit()
            raise
        audit["grant_id"] = str(grant.id)
    else:
        if purpose in set(PolicePurpose):
            raise Forbidden(f"purpose {purpose} is for police reads under a grant")
        if uow.session.scalar(select(Subject.id).where(Subject.id == subject_id, subject_visible(uow.actor))) is None:
            raise NotFound(f"subject {subject_id} not found")
    points = trail.read(uow.session, subject_id, from_, to)
    uow.record_read("trail", subject_id, purpose=str(purpose),
                    detail={**audit, "points": len(points), "format": format})
    uow.commit()
    if format == "csv":
        return StreamingResponse(trail.as_csv_lines(points), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="trail-{subject_id}.csv"'})
    return JSONResponse(trail.as_geojson(points), media_type="application/geo+json")
