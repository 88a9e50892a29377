"""The subject page: the order and its conditions in plain words, the map and trail (opened with a
purpose, audited), playback, the timeline, and the trail exports.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from custodes.actor import Role
from custodes.alerts import service as alerts
from custodes.console import evidence, pdf, plain, timeline, trail_reads, web
from custodes.console.caseload import reference
from custodes.devices import service as devices
from custodes.devices.models import Device
from custodes.errors import Forbidden, Invalid
from custodes.orders import service as orders
from custodes.subjects import service as subjects

SUBJECT_ROLES = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
DEFAULT_WINDOW = timedelta(days=7)
router = web.console_router()


def _parse_local(value: str | None, tz: str, field: str) -> datetime | None:
    """A `datetime-local` value typed in the officer's zone, as an aware UTC datetime."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field(field, "use the date and time picker (YYYY-MM-DDTHH:MM)") from None
    return (naive if naive.tzinfo else naive.replace(tzinfo=ZoneInfo(tz))).astimezone(ZoneInfo("UTC"))


def _window(page: web.Page, t_from: str | None, t_to: str | None) -> tuple[datetime, datetime]:
    to = _parse_local(t_to, page.tz, "to") or page.now
    return (_parse_local(t_from, page.tz, "from") or to - DEFAULT_WINDOW), to


def _zones(conditions) -> list[dict]:
    return [{"name": c.spec["name"], "type": c.spec["zone_type"], "circle": c.spec.get("circle"),
             "geometry": c.spec.get("geometry"), "words": plain.zone(c.spec)} for c in conditions if c.kind == "zone"]


def _alert_marks(subject_alerts, tz: str, subject_tz: str) -> list[dict]:
    marks = []
    for a in subject_alerts:
        ev = a.evidence or {}
        if isinstance(ev.get("lat"), int | float) and isinstance(ev.get("lon"), int | float):
            marks.append({"lat": ev["lat"], "lon": ev["lon"], "accuracy_m": ev.get("accuracy_m"),
                          "category": a.category, "label": f"{a.kind.replace('_', ' ')} at "
                          f"{web.local(a.occurred_at, subject_tz)} ({a.status})"})
    return marks


@router.get("/subjects/{subject_id}", dependencies=[web.page_requires(*SUBJECT_ROLES)])
def subject_page(page: web.PageDep, subject_id: uuid.UUID,
                 from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                 to: Annotated[str | None, Query(max_length=40)] = None,
                 purpose: Annotated[str | None, Query(max_length=40)] = None,
                 detail: Annotated[str, Query(max_length=500)] = "") -> Response:
    uow = page.uow
    subject = subjects.get(uow=uow, subject_id=subject_id, purpose="console: subject page")
    t_from, t_to = _window(page, from_, to)
    points = None
    can_read_trail = page.officer.role in trail_reads.TRAIL_ROLES
    if purpose:
        if not can_read_trail:
            raise Forbidden(f"your role ({page.officer.role}) may not read trails")
        _, points = trail_reads.read(uow=uow, subject_id=subject.id,
                                     req=trail_reads.TrailRequest(t_from, t_to, purpose, detail))
    order_list, _ = orders.list_for_subject(uow=uow, subject_id=subject.id, limit=20, offset=0)
    conditions = {o.id: orders.conditions_of(uow=uow, order=o) for o in order_list}
    current = next((o for o in order_list if o.status == "active"), order_list[0] if order_list else None)
    assignments = devices.assignments_of_subject(uow=uow, subject_id=subject.id)
    worn = next((a for a in assignments if a.starts_at <= page.now and (a.ends_at is None or a.ends_at > page.now)),
                None)
    device = uow.session.scalar(select(Device).where(Device.id == worn.device_id)) if worn else None
    subject_alerts, _ = alerts.list_alerts(uow=uow, limit=100, offset=0, subject_id=subject.id)
    events = timeline.build(uow=uow, subject=subject, t_from=t_from, t_to=t_to, points=points)
    uow.commit()
    tz, stz = page.tz, subject.time_zone
    map_data = {
        "zones": _zones(conditions.get(current.id, []) if current else []),
        "alerts": _alert_marks([a for a in subject_alerts if t_from <= a.occurred_at < t_to], tz, stz),
        "trail": trail_reads.as_map_data(points) if points is not None else None,
        "officer_tz": tz, "subject_tz": stz, "tile_url": page.container.settings.map_tile_url,
    }
    query = {"from": web.local(t_from, tz, "%Y-%m-%dT%H:%M"), "to": web.local(t_to, tz, "%Y-%m-%dT%H:%M"),
             "purpose": purpose or "", "detail": detail}
    return page.render(
        "subject.html", title=subject.full_name, subject=subject, ref=reference(subject.id), orders=order_list,
        current=current, conditions=conditions, words=lambda c: plain.condition(c.kind, c.spec, stz),
        device=device, assignment=worn, alerts=subject_alerts, events=events, map_data=map_data,
        trail_opened=points is not None, fix_count=len(points or []), query=query, purposes=trail_reads.PURPOSES,
        can_read_trail=can_read_trail, t_from=t_from, t_to=t_to)


@router.get("/subjects/{subject_id}/trail.{fmt}", dependencies=[web.page_requires(*trail_reads.TRAIL_ROLES)])
def export_trail(page: web.PageDep, subject_id: uuid.UUID, fmt: Literal["geojson", "gpx", "csv"],
                 from_: Annotated[str, Query(alias="from", max_length=40)],
                 to: Annotated[str, Query(max_length=40)], purpose: Annotated[str, Query(max_length=40)],
                 detail: Annotated[str, Query(max_length=500)] = "") -> Response:
    t_from, t_to = _window(page, from_, to)
    subject, points = trail_reads.read(uow=page.uow, subject_id=subject_id, export=fmt,
                                       req=trail_reads.TrailRequest(t_from, t_to, purpose, detail))
    page.uow.commit()
    name = f"trail-{reference(subject.id)}-{t_from:%Y%m%d%H%M}-{t_to:%Y%m%d%H%M}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "geojson":
        return JSONResponse(trail_reads.geojson(points), media_type="application/geo+json", headers=disposition)
    # One body, not a stream of lines: a week is a few MB, and a line-by-line stream crawls through the
    # thread pool one chunk at a time.
    if fmt == "gpx":
        return Response("".join(trail_reads.as_gpx(points, f"{subject.full_name} {reference(subject.id)}")),
                        media_type="application/gpx+xml", headers=disposition)
    return Response("".join(trail_reads.csv_lines(points)), media_type="text/csv", headers=disposition)


@router.get("/subjects/{subject_id}/alerts/{alert_id}/evidence.pdf",
            dependencies=[web.page_requires(*trail_reads.TRAIL_ROLES)])
def evidence_pack(page: web.PageDep, subject_id: uuid.UUID, alert_id: uuid.UUID,
                  purpose: Annotated[str, Query(max_length=40)]) -> Response:
    pack = evidence.assemble(uow=page.uow, subject_id=subject_id, alert_id=alert_id, purpose=purpose)
    body = pdf.render(pack, made_by=page.officer.name or "unknown", made_at=page.now)
    name = f"evidence-{reference(subject_id)}-alert-{str(alert_id)[:8]}.pdf"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
