"""Routes for alerts: the queue with its filters, the live stream, and the handling steps."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Officer, Paging, Uow, requires
from custodes.access.models import UserRead
from custodes.alerts import feed, service
from custodes.alerts.models import (
    AlertAssign,
    AlertCategory,
    AlertRead,
    AlertResolve,
    AlertStatus,
    Severity,
)
from custodes.bounds import Instant
from custodes.pagination import Page

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
HANDLERS = (Role.CASEWORKER, Role.REVIEWER)


@router.get("", response_model=Page[AlertRead], dependencies=[requires(*READERS)])
def list_alerts(uow: Uow, paging: Paging, status: AlertStatus | None = None, kind: str | None = None,
                category: AlertCategory | None = None, subject_id: uuid.UUID | None = None,
                since: Instant | None = None, before: Instant | None = None,
                severity: Severity | None = None, agency_id: uuid.UUID | None = None,
                assigned_to: uuid.UUID | None = None) -> Page[AlertRead]:
    items, total = service.list_alerts(uow=uow, limit=paging.limit, offset=paging.offset, status=status, kind=kind,
                                       category=category, subject_id=subject_id, since=since, before=before,
                                       severity=severity, agency_id=agency_id, assigned_to=assigned_to)
    uow.commit()  # the reads of each alert are recorded by the unit of work
    return Page(items=[AlertRead.model_validate(a) for a in items], total=total, **paging.model_dump())


@router.get("/stream", dependencies=[requires(*READERS)], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, container: ContainerDep, actor: Officer,
                 last_event_id: Annotated[str | None, Header()] = None,
                 poll: Annotated[float, Query(ge=0.2, le=30)] = 1.0) -> StreamingResponse:
    """Server-sent events: an `alert` event (AlertRead as JSON) for each alert raised from now on
    that you may see. Reconnecting with `Last-Event-ID` resumes after the last one received."""
    start = feed.resume_point(last_event_id, container.clock.now())
    body = feed.stream(request, container.uow, actor, start,
                       lambda _uow, a: json.dumps(AlertRead.model_validate(a).model_dump(mode="json")),
                       poll_seconds=poll)
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/handlers", response_model=list[UserRead], dependencies=[requires(*READERS)])
def alert_handlers(uow: Uow) -> list[UserRead]:
    """The officers of your agency an alert can be assigned to."""
    return [UserRead.model_validate(u) for u in service.handlers(uow=uow)]


@router.get("/{alert_id}", response_model=AlertRead, dependencies=[requires(*READERS)])
def get_alert(alert_id: uuid.UUID, uow: Uow) -> AlertRead:
    alert = service.load(uow=uow, alert_id=alert_id)
    uow.commit()
    return AlertRead.model_validate(alert)


@router.post("/{alert_id}/acknowledge", response_model=AlertRead, dependencies=[requires(*HANDLERS)])
def acknowledge(alert_id: uuid.UUID, uow: Uow) -> AlertRead:
    alert = service.acknowledge(uow=uow, alert_id=alert_id)
    uow.commit()
    return AlertRead.model_validate(alert)


@router.post("/{alert_id}/assign", response_model=AlertRead, dependencies=[requires(*HANDLERS)])
def assign(alert_id: uuid.UUID, data: AlertAssign, uow: Uow) -> AlertRead:
    alert = service.assign(uow=uow, alert_id=alert_id, data=data)
    uow.commit()
    return AlertRead.model_validate(alert)


@router.post("/{alert_id}/resolve", response_model=AlertRead, dependencies=[requires(*HANDLERS)])
def resolve(alert_id: uuid.UUID, data: AlertResolve, uow: Uow) -> AlertRead:
    alert = service.resolve(uow=uow, alert_id=alert_id, data=data)
    uow.commit()
    return AlertRead.model_validate(alert)
