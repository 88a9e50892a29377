"""Routes for alerts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import AwareDatetime

from custodes.access.actor import Role
from custodes.access.deps import Paging, Uow, requires
from custodes.alerts import service
from custodes.alerts.models import AlertCategory, AlertRead, AlertResolve, AlertStatus
from custodes.pagination import Page

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
HANDLERS = (Role.CASEWORKER, Role.REVIEWER)


@router.get("", response_model=Page[AlertRead], dependencies=[requires(*READERS)])
def list_alerts(uow: Uow, paging: Paging, status: AlertStatus | None = None, kind: str | None = None,
                category: AlertCategory | None = None, subject_id: uuid.UUID | None = None,
                since: AwareDatetime | None = None) -> Page[AlertRead]:
    items, total = service.list_alerts(uow=uow, limit=paging.limit, offset=paging.offset, status=status, kind=kind,
                                       category=category, subject_id=subject_id, since=since)
    uow.commit()  # the reads of each alert are recorded by the unit of work
    return Page(items=[AlertRead.model_validate(a) for a in items], total=total, **paging.model_dump())


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


@router.post("/{alert_id}/resolve", response_model=AlertRead, dependencies=[requires(*HANDLERS)])
def resolve(alert_id: uuid.UUID, data: AlertResolve, uow: Uow) -> AlertRead:
    alert = service.resolve(uow=uow, alert_id=alert_id, data=data)
    uow.commit()
    return AlertRead.model_validate(alert)
