"""Raising alerts (idempotent by dedupe key) and moving them through their lifecycle."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from custodes.access.models import User
from custodes.subjects.scope import load_through_subject, subject_visible
from custodes.alerts.models import (
    Alert,
    AlertAssign,
    AlertCategory,
    AlertResolve,
    Severity,
)
from custodes.errors import Conflict, Invalid
from custodes.pagination import paged
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

TOPIC_RAISED = "alert.raised"
TOPIC_CHANGED = "alert.changed"


def raise_alert(*, uow: UnitOfWork, subject_id: uuid.UUID, kind: str, category: AlertCategory, severity: Severity,
                occurred_at: datetime, dedupe_key: str, evidence: dict[str, Any]) -> tuple[Alert, bool]:
    """Return the alert for this dedupe key, creating it (and its outbox message) only the first time."""
    existing = uow.session.scalars(select(Alert).where(Alert.dedupe_key == dedupe_key)).first()
    if existing is not None:
        return existing, False
    alert = Alert(id=uuid.uuid4(), dedupe_key=dedupe_key, subject_id=subject_id, kind=kind, category=category,
                  severity=severity, status="open", evidence=evidence, occurred_at=occurred_at,
                  raised_at=uow.clock.now())
    uow.session.add(alert)
    uow.publish(TOPIC_RAISED, _message(uow, alert))
    return alert, True


def _message(uow: UnitOfWork, alert: Alert) -> dict[str, Any]:
    subject = uow.session.get(Subject, alert.subject_id)
    return {"alert_id": str(alert.id), "kind": alert.kind, "category": alert.category, "severity": alert.severity,
            "status": alert.status, "subject_id": str(alert.subject_id),
            "agency_id": str(subject.agency_id) if subject else None,
            "occurred_at": alert.occurred_at.isoformat(), "dedupe_key": alert.dedupe_key}


def load(*, uow: UnitOfWork, alert_id: uuid.UUID) -> Alert:
    return load_through_subject(uow, Alert, alert_id, "alert")


def list_alerts(*, uow: UnitOfWork, limit: int, offset: int, status: str | None = None, kind: str | None = None,
                category: str | None = None, subject_id: uuid.UUID | None = None,
                since: datetime | None = None, before: datetime | None = None, severity: str | None = None,
                agency_id: uuid.UUID | None = None, assigned_to: uuid.UUID | None = None,
                open_only: bool = False) -> tuple[list[Alert], int]:
    q = (select(Alert).join(Subject, Subject.id == Alert.subject_id).where(subject_visible(uow.actor))
         .order_by(Alert.raised_at.desc(), Alert.id))
    for column, value in ((Alert.status, status), (Alert.kind, kind), (Alert.category, category),
                          (Alert.subject_id, subject_id), (Alert.severity, severity),
                          (Subject.agency_id, agency_id), (Alert.assigned_to, assigned_to)):
        if value is not None:
            q = q.where(column == value)
    if open_only:
        q = q.where(Alert.status != "resolved")
    if since is not None:
        q = q.where(Alert.raised_at >= since)
    if before is not None:  # "older than": the age filter
        q = q.where(Alert.raised_at < before)
    return paged(uow.session, q, limit, offset)


HANDLER_ROLES = ("caseworker", "reviewer")


def assign(*, uow: UnitOfWork, alert_id: uuid.UUID, data: AlertAssign) -> Alert:
    """Give the alert to one officer of the actor's own agency (or take it back)."""
    alert = load(uow=uow, alert_id=alert_id)
    if alert.status == "resolved":
        raise Conflict("alert is already resolved")
    if data.officer_id is not None:
        user = uow.session.scalars(select(User).where(User.id == data.officer_id, User.active.is_(True),
                                                      User.agency_id == uow.actor.agency_id)).first()
        if user is None:
            raise Invalid.field("officer_id", "no active officer of your agency with that id")
        if user.role not in HANDLER_ROLES:
            raise Invalid.field("officer_id", f"a {user.role} does not handle alerts")
    alert.assigned_to = data.officer_id
    alert.assigned_at = uow.clock.now() if data.officer_id else None
    uow.publish(TOPIC_CHANGED, _message(uow, alert))
    return alert


def handlers(*, uow: UnitOfWork) -> list[User]:
    """The officers of the actor's agency an alert may be assigned to."""
    return list(uow.session.scalars(select(User).where(User.agency_id == uow.actor.agency_id,
                                                       User.active.is_(True), User.role.in_(HANDLER_ROLES))
                                    .order_by(User.username)))


def acknowledge(*, uow: UnitOfWork, alert_id: uuid.UUID) -> Alert:
    alert = load(uow=uow, alert_id=alert_id)
    if alert.status != "open":
        raise Conflict(f"alert is {alert.status}, not open")
    alert.status = "acknowledged"
    alert.acknowledged_at = uow.clock.now()
    alert.acknowledged_by = uuid.UUID(uow.actor.id) if uow.actor.id else None
    uow.publish(TOPIC_CHANGED, _message(uow, alert))
    return alert


def resolve(*, uow: UnitOfWork, alert_id: uuid.UUID, data: AlertResolve) -> Alert:
    alert = load(uow=uow, alert_id=alert_id)
    if alert.status == "resolved":
        raise Conflict("alert is already resolved")
    now = uow.clock.now()
    if alert.status == "open":  # resolving implies it was seen
        alert.acknowledged_at = now
        alert.acknowledged_by = uuid.UUID(uow.actor.id) if uow.actor.id else None
    alert.status = "resolved"
    alert.resolved_at = now
    alert.resolved_by = uuid.UUID(uow.actor.id) if uow.actor.id else None
    alert.outcome = data.outcome
    alert.reason = data.reason
    uow.publish(TOPIC_CHANGED, _message(uow, alert))
    return alert


def supersede(*, uow: UnitOfWork, alert: Alert, reason: str, note: dict[str, Any]) -> Alert:
    """Resolve an alert that later data no longer supports (late fixes contradicted it), keeping
    it, annotated with what superseded it and why: alerts are never deleted."""
    now = uow.clock.now()
    alert.evidence = {**alert.evidence, "superseded": {**note, "at": now.isoformat().replace("+00:00", "Z")}}
    if alert.status == "open":
        alert.acknowledged_at = now
    alert.status = "resolved"
    alert.resolved_at = now
    alert.reason = reason  # no outcome: outcomes are an officer's decision, never the machine's
    uow.publish(TOPIC_CHANGED, _message(uow, alert))
    return alert


def revise(*, uow: UnitOfWork, alert: Alert, occurred_at: datetime, evidence: dict[str, Any],
           note: dict[str, Any]) -> Alert:
    """Late data moved an alert's own instant (the episode began earlier than first seen): keep
    the alert, record what it said before, and say what revised it."""
    before = {"occurred_at": alert.occurred_at.isoformat(), "evidence": {k: v for k, v in alert.evidence.items()
                                                                          if k != "revisions"}}
    revisions = [*alert.evidence.get("revisions", []), {**note, "before": before}]
    alert.evidence = {**evidence, "revisions": revisions}
    alert.occurred_at = occurred_at
    uow.publish(TOPIC_CHANGED, _message(uow, alert))
    return alert
