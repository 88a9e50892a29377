"""The alert queue: new alerts arrive live (SSE from the database), officers acknowledge, assign and
resolve them with an outcome and a reason; filters by kind, severity, agency and age."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from custodes.actor import Role
from custodes.access.models import Agency, User
from custodes.subjects.scope import subject_visible
from custodes.alerts import feed as alert_feed
from custodes.alerts import service as alerts
from custodes.alerts.models import (
    OUTCOME_WORDS,
    Alert,
    AlertAssign,
    AlertResolve,
    Outcome,
)
from custodes.console import live, web
from custodes.console import session as cookies
from custodes.console.caseload import reference
from custodes.review import service as review
from custodes.subjects.models import Subject

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
HANDLERS = (Role.CASEWORKER, Role.REVIEWER)
AGES = {"": "any age", "1h": "older than 1 hour", "24h": "older than 24 hours", "7d": "older than 7 days"}
AGE_DELTA = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
SEVERITIES = ("critical", "high", "medium", "low")
KIND_WORDS = {"curfew_breach": "Curfew breach", "exclusion_zone_entry": "Entered an exclusion zone",
              "inclusion_zone_exit": "Left a required zone", "battery_low": "Battery low",
              "device_silent": "Device silent", "tamper": "Strap or case tampered", "check_in_missed": "Check-in missed",
              review.ALERT_CONFIRMED: "Check-in failed (confirmed by two reviewers)"}
CATEGORY_WORDS = {"breach": "Possible breach", "device_fault": "Device fault", "integrity": "Integrity",
                  "check_in": "Check-in"}
PAGE_SIZE = 50
router = web.console_router()
web.add_nav("/alerts", "Alerts", READERS)


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    severity: str = ""
    agency: str = ""
    age: str = ""
    show: str = "open"  # open | resolved | all

    def query(self) -> str:
        return urlencode({k: v for k, v in self.__dict__.items() if v})

    def keeps(self, alert: Alert, subject: Subject, now: datetime) -> bool:
        """The same filters applied to one alert arriving on the live stream."""
        return ((not self.kind or alert.kind == self.kind) and (not self.severity or alert.severity == self.severity)
                and (not self.agency or str(subject.agency_id) == self.agency)
                and (self.show != "resolved" or alert.status == "resolved")
                and (self.show != "open" or alert.status != "resolved")
                and (not self.age or alert.raised_at < now - AGE_DELTA[self.age]))


def _filters(kind: str | None, severity: str | None, agency: str | None, age: str | None, show: str | None) -> Filters:
    return Filters(kind=(kind or "")[:64], severity=severity if severity in SEVERITIES else "",
                   agency=agency if _is_uuid(agency) else "", age=age if age in AGE_DELTA else "",
                   show=show if show in ("open", "resolved", "all") else "open")


def _is_uuid(text: str | None) -> bool:
    try:
        uuid.UUID(text or "")
        return True
    except ValueError:
        return False


def words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


def _evidence_rows(evidence: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(label, value, is_time) for each piece of evidence; times are shown in two zones."""
    out = []
    for key, value in evidence.items():
        is_time = False
        if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
            try:
                value, is_time = datetime.fromisoformat(value), True
            except ValueError:
                pass
        out.append((key.replace("_", " "), value, is_time))
    return out


def context(page: web.Page) -> dict[str, Any]:
    """What the alert row template needs besides the alert (also used inside the stream's thread)."""
    handlers = alerts.handlers(uow=page.uow)
    return {"handlers": handlers, "names": {u.id: u.username for u in handlers}, "outcomes": OUTCOME_WORDS,
            "can_handle": page.officer.role in HANDLERS, "words": words, "categories": CATEGORY_WORDS,
            "evidence_rows": _evidence_rows, "reference": reference}


def fragment(page: web.Page, template: str, **ctx: Any) -> str:
    """A partial rendered to a string (for SSE events), with the same helpers as a page."""
    now, tz, token = page.now, page.tz, page.csrf
    helpers = {"officer": page.officer, "now": now, "officer_tz": tz, "csrf_token": token,
               "csrf_field": lambda: Markup('<input type="hidden" name="%s" value="%s">') % (cookies.CSRF_FIELD, token),
               "local": lambda dt, zone_name=None, fmt="%d %b %Y %H:%M %Z": web.local(dt, zone_name or tz, fmt),
               "utc": lambda dt: web.local(dt, "UTC", "%Y-%m-%d %H:%M:%S UTC"), "age": lambda dt: web.age(dt, now)}
    return web.templates.get_template(template).render({**helpers, **ctx})


def _subjects(page: web.Page, items: list[Alert]) -> dict[uuid.UUID, Subject]:
    ids = {a.subject_id for a in items}
    return {s.id: s for s in page.uow.session.scalars(select(Subject).where(Subject.id.in_(ids)))} if ids else {}


def _agencies(page: web.Page) -> list[Agency]:
    visible = select(Subject.agency_id).where(subject_visible(page.officer)).distinct()
    return list(page.uow.session.scalars(select(Agency).where(Agency.id.in_(visible)).order_by(Agency.name)))


@router.get("/alerts", dependencies=[web.page_requires(*READERS)])
def queue(page: web.PageDep, kind: str | None = None, severity: str | None = None, agency: str | None = None,
          age: str | None = None, show: str | None = None, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    f = _filters(kind, severity, agency, age, show)
    items, total = alerts.list_alerts(
        uow=page.uow, limit=PAGE_SIZE, offset=offset, kind=f.kind or None, severity=f.severity or None,
        agency_id=uuid.UUID(f.agency) if f.agency else None, open_only=f.show == "open",
        status="resolved" if f.show == "resolved" else None,
        before=page.now - AGE_DELTA[f.age] if f.age else None)
    kinds = sorted(set(page.uow.session.scalars(select(Alert.kind).join(Subject, Subject.id == Alert.subject_id)
                                                .where(subject_visible(page.officer)).distinct())))
    return page.render("alerts.html", title="Alert queue", items=items, total=total, subjects=_subjects(page, items),
                       filters=f, kinds=kinds, severities=SEVERITIES, agencies=_agencies(page), ages=AGES,
                       offset=offset, limit=PAGE_SIZE, **context(page))


@router.get("/alerts/stream", dependencies=[web.page_requires(*READERS)])
def stream(page: web.PageDep, kind: str | None = None, severity: str | None = None, agency: str | None = None,
           age: str | None = None, show: str | None = None, since: datetime | None = None) -> Response:
    """New alerts as rendered rows (server-sent events), filtered like the page that opened it."""
    f = _filters(kind, severity, agency, age, show)
    last = page.request.headers.get("last-event-id")
    # First connection: from when the page was drawn; a reconnection: from the last alert received.
    start = alert_feed.resume_point(last, since if since and since.tzinfo else page.now)
    feed = alert_feed.AlertFeed(page.uow, start)
    container, officer = page.container, page.officer
    page.uow.session.close()  # the stream polls with its own short units of work, not this one

    def fetch(cursor: alert_feed.AlertFeed) -> tuple[list[tuple[str, str]], alert_feed.AlertFeed]:
        with container.uow(officer) as uow:
            tick = dataclasses.replace(page, uow=uow)  # the same officer and session, this poll's unit of work
            fresh = cursor.poll(uow)
            subjects = _subjects(tick, fresh)
            kept = [a for a in fresh if f.keeps(a, subjects[a.subject_id], tick.now)]
            ctx = context(tick) if kept else {}
            return [("alert", fragment(tick, "_alert_row.html", a=a, s=subjects[a.subject_id], live=True, **ctx),
                     alert_feed.event_id(a)) for a in kept], cursor

    return live.sse(page.request, fetch, cursor=feed, interval_s=1.0)


def _row(page: web.Page, alert: Alert, message: str) -> Response:
    """After an action: htmx gets the updated row (with what was done); a plain form goes back to the queue."""
    if not web.is_htmx(page.request):
        return page.redirect("/alerts", message)
    subject = page.uow.session.get(Subject, alert.subject_id)
    html = fragment(page, "_alert_row.html", a=alert, s=subject, done=message, **context(page))
    return HTMLResponse(html)


@router.post("/alerts/{alert_id}/acknowledge", dependencies=[web.page_requires(*HANDLERS)])
def acknowledge(page: web.PageDep, alert_id: uuid.UUID) -> Response:
    alert = alerts.acknowledge(uow=page.uow, alert_id=alert_id)
    page.uow.commit()
    return _row(page, alert, f"Acknowledged: {words(alert.kind)}.")


@router.post("/alerts/{alert_id}/assign", dependencies=[web.page_requires(*HANDLERS)])
def assign(page: web.PageDep, alert_id: uuid.UUID, officer_id: Annotated[str, Form()] = "") -> Response:
    target = uuid.UUID(officer_id) if _is_uuid(officer_id) else None
    alert = alerts.assign(uow=page.uow, alert_id=alert_id, data=AlertAssign(officer_id=target))
    page.uow.commit()
    name = page.uow.session.scalar(select(User.username).where(User.id == target)) if target else None
    return _row(page, alert, f"Assigned to {name}." if name else "Unassigned.")


@router.post("/alerts/{alert_id}/resolve", dependencies=[web.page_requires(*HANDLERS)])
def resolve(page: web.PageDep, alert_id: uuid.UUID, outcome: Annotated[Outcome, Form()],
            reason: Annotated[str, Form(min_length=3, max_length=2000)]) -> Response:
    alert = alerts.resolve(uow=page.uow, alert_id=alert_id, data=AlertResolve(outcome=outcome, reason=reason))
    page.uow.commit()
    return _row(page, alert, f"Resolved as “{OUTCOME_WORDS[outcome]}”.")

