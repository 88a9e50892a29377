"""Reading a subject's trail from the console: scoped, with a stated purpose, and audited in the same
transaction; the exports (GeoJSON, GPX, CSV) are audited as exports.

It uses the same pieces as the API's trail read: the subject scope (`subjects.service.load`), the
trail store (`telemetry.trail.read`) and the unit of work's audit. Police read trails under grants
through the API only, so the console does not offer them the trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from custodes.actor import Role
from custodes.audit.models import AuditAction
from custodes.errors import Invalid
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.telemetry import trail
from custodes.telemetry.trail import TrailPoint
from custodes.uow import UnitOfWork

TRAIL_ROLES = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION)
MAX_WINDOW = timedelta(days=31)
PURPOSES = {
    "alert_triage": "Triage or investigation of an alert",
    "compliance_check": "Checking compliance with the order's conditions",
    "case_review": "Quarterly or case review",
    "court_evidence": "Preparing evidence for a court or tribunal",
    "welfare": "Welfare or safeguarding concern",
}


@dataclass(frozen=True)
class TrailRequest:
    t_from: datetime
    t_to: datetime
    purpose: str
    detail: str


def check(req: TrailRequest) -> None:
    if req.purpose not in PURPOSES:
        raise Invalid.field("purpose", "choose one of the listed purposes")
    if len(req.detail.strip()) < 3:
        raise Invalid.field("detail", "say in a few words why (a case or alert reference)")
    if req.t_to <= req.t_from:
        raise Invalid.field("to", "the end of the window must be after its start")
    if req.t_to - req.t_from > MAX_WINDOW:
        raise Invalid.field("to", f"a trail window is at most {MAX_WINDOW.days} days")


def read(*, uow: UnitOfWork, subject_id: uuid.UUID, req: TrailRequest,
         export: str | None = None) -> tuple[Subject, list[TrailPoint]]:
    """The subject's fixes in [from, to) if this officer may see the subject; one audit entry."""
    check(req)
    subject = subjects.load(uow=uow, subject_id=subject_id)
    points = trail.read(uow.session, subject.id, req.t_from, req.t_to)
    detail = {"from": req.t_from.isoformat(), "to": req.t_to.isoformat(), "points": len(points),
              "purpose_detail": req.detail.strip(), "via": "console", "format": export or "map"}
    if export:
        uow.record(AuditAction.EXPORT, "trail", subject.id, purpose=req.purpose, detail=detail)
    else:
        uow.record_read("trail", subject.id, purpose=req.purpose, detail=detail)
    return subject, points


def _z(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def as_gpx(points: list[TrailPoint], name: str) -> Iterator[str]:
    """GPX 1.1: one track of the fixes, each with its time and accuracy (as hdop-free extension text)."""
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="Custodes" '
           'xmlns="http://www.topografix.com/GPX/1/1">\n')
    yield f"<trk><name>{escape(name)}</name><trkseg>\n"
    for p in points:
        yield (f'<trkpt lat="{p.lat:.7f}" lon="{p.lon:.7f}"><time>{_z(p.at)}</time>'
               f"<desc>accuracy {p.accuracy_m:g} m; {p.source}; fix {escape(p.fix_id)}</desc></trkpt>\n")
    yield "</trkseg></trk>\n</gpx>\n"


def as_map_data(points: list[TrailPoint]) -> list[list]:
    """Compact rows for the map script: [unix ms, lat, lon, accuracy m]."""
    return [[int(p.at.timestamp() * 1000), round(p.lat, 6), round(p.lon, 6), round(p.accuracy_m, 1)] for p in points]


geojson = trail.as_geojson
csv_lines = trail.as_csv_lines
