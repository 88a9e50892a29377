"""Device inventory: devices as assets (in stock, issued, returned, lost, faulty) with their history
and barcode, and returning a device by scanning it (a confirmation ends its assignment)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from custodes.actor import Role
from custodes.subjects.scope import subject_visible
from custodes.console import web
from custodes.console.alert_queue import fragment
from custodes.devices import history
from custodes.devices import service as devices
from custodes.devices.models import Device
from custodes.devices.returns import ReturnScan, scan_return
from custodes.errors import Conflict, Invalid, NotFound
from custodes.subjects.models import Subject

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
KEEPERS = (Role.CASEWORKER, Role.ADMIN)
STATUSES = {"in_stock": "in stock", "issued": "issued", "returned": "returned", "lost": "lost", "faulty": "faulty"}
router = web.console_router()
web.add_nav("/inventory", "Devices", READERS)


@router.get("/inventory", dependencies=[web.page_requires(*READERS)])
def inventory(page: web.PageDep, status: str | None = None, q: Annotated[str | None, Query(max_length=64)] = None,
              offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    status = status if status in STATUSES else None
    items, total = devices.list_devices(uow=page.uow, limit=100, offset=offset, status=status)
    if q:
        needle = q.strip().lower()
        items = [d for d in items if needle in d.serial.lower() or needle in d.barcode.lower()]
    counts = dict(page.uow.session.execute(select(Device.status, func.count()).where(
        Device.agency_id == page.officer.agency_id).group_by(Device.status)).all())
    return page.render("inventory.html", title="Device inventory", items=items, total=total, show=status or "",
                       q=q or "", statuses=STATUSES, counts=counts, can_keep=page.officer.role in KEEPERS,
                       offset=offset, limit=100)


@router.get("/inventory/{device_id}/history", dependencies=[web.page_requires(*READERS)])
def device_history(page: web.PageDep, device_id: uuid.UUID) -> Response:
    device = devices.load(uow=page.uow, device_id=device_id)
    events = history.history(page.uow, device)
    names = dict(page.uow.session.execute(select(Subject.id, Subject.full_name).where(
        Subject.id.in_({e.subject_id for e in events if e.subject_id}), subject_visible(page.officer))).all())
    return HTMLResponse(fragment(page, "_device_history.html", device=device, events=events, names=names,
                                 statuses=STATUSES))


@router.get("/inventory/return", dependencies=[web.page_requires(*KEEPERS)])
def return_preview(page: web.PageDep, barcode: Annotated[str, Query(min_length=1, max_length=64)]) -> Response:
    """Step one of a return: the scan shows whose device it is and what confirming will do; nothing changes yet."""
    code = barcode.strip()
    try:
        answer = scan_return(uow=page.uow, data=ReturnScan(barcode=code))
    except NotFound:
        return page.redirect("/inventory", f"No device of your agency has barcode {code}. Check the label and scan "
                                            "again.", "error")
    except Conflict as exc:
        return page.redirect("/inventory", f"{exc.detail}.", "error")
    except ValueError:
        return page.redirect("/inventory", f"“{code}” is not a barcode (letters, digits and dashes only). Scan "
                                            "again.", "error")
    return page.render("inventory_return.html", title="Confirm the return", answer=answer, statuses=STATUSES)


@router.post("/inventory/return", dependencies=[web.page_requires(*KEEPERS)])
def return_confirm(page: web.PageDep, barcode: Annotated[str, Form(min_length=4, max_length=64)],
                   faulty: Annotated[bool, Form()] = False,
                   reason: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    try:
        scan = ReturnScan(barcode=barcode.strip(), confirm=True, faulty=faulty,
                          reason=reason.strip() if reason and reason.strip() else None)
    except ValidationError as exc:
        raise Invalid("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    answer = scan_return(uow=page.uow, data=scan)
    page.uow.commit()
    return page.redirect("/inventory", answer.message)
