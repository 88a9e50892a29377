"""The caseload: the subjects the officer's agency may see, with what needs attention; search; barcode scan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response
from sqlalchemy import String, cast, func, or_, select

from custodes.actor import Role
from custodes.subjects.scope import subject_visible
from custodes.alerts.models import Alert
from custodes.audit.models import AuditAction
from custodes.console import web
from custodes.devices import service as devices
from custodes.devices.models import Assignment, Device
from custodes.errors import NotFound
from custodes.orders.models import Order
from custodes.pagination import paged
from custodes.subjects.models import Subject
from custodes.telemetry.models import MonitorState, TelemetryBatch

CASELOAD_ROLES = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)  # as the API's subject readers
PAGE_SIZE = 50
router = web.console_router()


@dataclass
class CaseRow:
    subject: Subject
    order: Order | None
    device: Device | None
    battery_pct: float | None
    battery_level: str | None
    last_fix_at: datetime | None
    open_alerts: int

    @property
    def reference(self) -> str:
        return reference(self.subject.id)


def reference(subject_id: uuid.UUID) -> str:
    """The short case reference officers read out and type: the first 8 hex digits of the id."""
    return subject_id.hex[:8].upper()


def _search(q: str):
    text = q.strip()
    ref = text.lower().replace("-", "")
    conds = [Subject.full_name.ilike(f"%{text}%")]
    if ref and all(c in "0123456789abcdef" for c in ref):
        # Uuid columns are stored as 32 hex digits on SQLite and as uuid on PostgreSQL.
        conds.append(func.replace(cast(Subject.id, String), "-", "").ilike(f"{ref}%"))
    return or_(*conds)


def caseload_rows(*, page: web.Page, q: str | None, limit: int, offset: int) -> tuple[list[CaseRow], int]:
    uow = page.uow
    s = uow.session
    query = select(Subject).where(subject_visible(uow.actor)).order_by(Subject.full_name, Subject.id)
    if q and q.strip():
        query = query.where(_search(q))
    subjects, total = paged(s, query, limit, offset)
    uow.record(AuditAction.LIST, "subject", None,
               detail={"ids": [str(x.id) for x in subjects], "filter": {"q": q} if q else {}, "via": "console"})
    ids = [x.id for x in subjects]
    if not ids:
        return [], total
    now = uow.clock.now()
    latest_orders: dict[uuid.UUID, Order] = {}
    for o in s.scalars(select(Order).where(Order.subject_id.in_(ids)).order_by(Order.starts_at)):
        if o.status != "draft" or o.subject_id not in latest_orders:
            latest_orders[o.subject_id] = o
    worn: dict[uuid.UUID, Device] = {}
    for a, d in s.execute(select(Assignment, Device).join(Device, Device.id == Assignment.device_id).where(
            Assignment.subject_id.in_(ids), Assignment.starts_at <= now,
            or_(Assignment.ends_at.is_(None), Assignment.ends_at > now))):
        worn[a.subject_id] = d
    states = {m.subject_id: m.state for m in s.scalars(select(MonitorState).where(MonitorState.subject_id.in_(ids)))}
    alerts = dict(s.execute(select(Alert.subject_id, func.count()).where(
        Alert.subject_id.in_(ids), Alert.status != "resolved").group_by(Alert.subject_id)).all())
    rows = []
    for x in subjects:
        state = states.get(x.id) or {}
        last_fix = (state.get("last_fix") or {}).get("at")
        device = worn.get(x.id)
        rows.append(CaseRow(subject=x, order=latest_orders.get(x.id), device=device,
                            battery_pct=_battery_pct(s, device.id) if device else None,
                            battery_level=state.get("battery"),
                            last_fix_at=datetime.fromisoformat(last_fix) if last_fix else None,
                            open_alerts=int(alerts.get(x.id, 0))))
    return rows, total


def _battery_pct(session, device_id: uuid.UUID) -> float | None:
    """The battery of the device's latest status report (the newest few batches are enough)."""
    for statuses in session.scalars(select(TelemetryBatch.statuses).where(TelemetryBatch.device_id == device_id)
                                    .order_by(TelemetryBatch.seq.desc()).limit(5)):
        if statuses:
            return float(max(statuses, key=lambda st: st.get("t_ms", 0)).get("battery_pct"))
    return None


@router.get("/caseload", dependencies=[web.page_requires(*CASELOAD_ROLES)])
def caseload(page: web.PageDep, q: Annotated[str | None, Query(max_length=200)] = None,
             offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    rows, total = caseload_rows(page=page, q=q, limit=PAGE_SIZE, offset=offset)
    page.uow.commit()
    partial = web.is_htmx(page.request) and page.request.headers.get("HX-History-Restore-Request") != "true"
    template = "_caseload_rows.html" if partial else "caseload.html"
    return page.render(template, title="Caseload", rows=rows, total=total, q=q or "", offset=offset,
                       limit=PAGE_SIZE)


@router.get("/scan", dependencies=[web.page_requires(*CASELOAD_ROLES)])
def scan(page: web.PageDep, barcode: Annotated[str, Query(min_length=1, max_length=64)]) -> Response:
    """A handheld scanner types the barcode and Enter: open the wearer, else the device itself."""
    code = barcode.strip()
    try:
        device = devices.by_barcode(uow=page.uow, barcode=code)
    except NotFound:
        return page.redirect("/caseload", f"No device of your agency has barcode {code}. Check the label and "
                                          "scan again, or type the barcode.", "error")
    worn_by = devices.active_assignment(uow=page.uow, device_id=device.id, at=page.now)
    if worn_by is not None:
        visible = page.uow.session.scalar(select(Subject.full_name).where(
            Subject.id == worn_by.subject_id, subject_visible(page.officer)))
        if visible is not None:
            return page.redirect(f"/subjects/{worn_by.subject_id}",
                                 f"Barcode {code}: device {device.serial}, worn by {visible}.", "info")
    return page.redirect(f"/devices/{device.id}", f"Barcode {code}: device {device.serial}, not worn by anyone "
                                                  "you can see.", "info")


@router.get("/devices/{device_id}", dependencies=[web.page_requires(*CASELOAD_ROLES)])
def device_page(page: web.PageDep, device_id: uuid.UUID) -> Response:
    device = devices.load(uow=page.uow, device_id=device_id)
    history = page.uow.session.scalars(select(Assignment).where(Assignment.device_id == device.id)
                                       .order_by(Assignment.starts_at.desc())).all()
    names = dict(page.uow.session.execute(select(Subject.id, Subject.full_name).where(
        Subject.id.in_([a.subject_id for a in history]), subject_visible(page.officer))).all())
    return page.render("device.html", title=f"Device {device.serial}", device=device, history=history, names=names)
