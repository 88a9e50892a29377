"""The person's sign-in and what they see of their own case, in plain words and their language.

Every query here goes through `subject_visible`, which for a subject actor is their own case only;
every read is audited like an officer's.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select

from custodes.access import security
from custodes.actor import Actor
from custodes.access import service as access
from custodes.subjects.scope import subject_visible
from custodes.alerts.models import Alert
from custodes.audit.models import AuditAction
from custodes.checkins import in_person
from custodes.checkins.models import CheckInPrompt, InPersonArrangement
from custodes.config import Settings
from custodes.errors import NotFound, TooManyRequests, Unauthorized
from custodes.orders.models import Condition, Order
from custodes.subject_access import deps
from custodes.subject_access.models import CredentialIssued, PlainItem, SubjectCredential
from custodes.subject_access.texts import language_for, say
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

_THROTTLE_PREFIX = "subject:"  # shares the officers' throttle table without sharing their names


def issue_credentials(*, uow: UnitOfWork, subject_id: uuid.UUID) -> CredentialIssued:
    """A caseworker issues (or reissues, withdrawing the old) the person's sign-in; shown once."""
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    password = secrets.token_urlsafe(12)
    cred = uow.session.scalars(select(SubjectCredential).where(SubjectCredential.subject_id == subject.id)).first()
    now = uow.clock.now()
    if cred is None:
        cred = SubjectCredential(id=uuid.uuid4(), subject_id=subject.id, username=f"p-{secrets.token_hex(4)}")
        uow.session.add(cred)
    else:  # a new id invalidates every token issued under the old credentials
        uow.session.delete(cred)
        uow.session.flush()
        cred = SubjectCredential(id=uuid.uuid4(), subject_id=subject.id, username=cred.username)
        uow.session.add(cred)
    cred.password_hash, cred.active, cred.issued_at = security.hash_password(password), True, now
    cred.issued_by = uuid.UUID(uow.actor.id) if uow.actor.kind == "user" and uow.actor.id else None
    return CredentialIssued(subject_id=subject.id, username=cred.username, password=password, issued_at=now)


def sign_in(*, uow: UnitOfWork, settings: Settings, token_key: bytes, username: str, password: str,
            address: str | None = None) -> str:
    """The person's own sign-in, throttled like an officer's (per name, address and both)."""
    now = uow.clock.now()
    name = username.strip().lower()
    steps, rows = access.throttle_rows(uow.session, settings, _THROTTLE_PREFIX + name, address)
    if wait := access.throttle_wait(rows, now):
        uow.record(AuditAction.SIGN_IN_FAILED, "subject_credential", None, detail={"reason": "throttled"})
        uow.commit()
        raise TooManyRequests(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    cred = uow.session.scalars(select(SubjectCredential).where(SubjectCredential.username == name)).first()
    if not security.check_password(cred.password_hash if cred else None, password) or not cred.active:
        access.throttle_failure(uow.session, steps, rows, now)
        uow.record(AuditAction.SIGN_IN_FAILED, "subject_credential", cred.id if cred else None)
        uow.commit()
        raise Unauthorized("wrong username or password")
    access.throttle_success(uow.session, rows)
    uow.actor = Actor(kind="subject", id=str(cred.subject_id), name=cred.username)
    uow.record(AuditAction.SIGN_IN, "subject_credential", cred.id, detail={"subject_id": str(cred.subject_id)})
    token = deps.issue_token(token_key, credential=cred, now=now, minutes=settings.token_minutes)
    uow.commit()
    return token


def me(*, uow: UnitOfWork) -> Subject:
    """The signed-in person's own record, found through the scope (never by trusting an id)."""
    subject = uow.session.scalars(select(Subject).where(subject_visible(uow.actor))).first()
    if subject is None:
        raise NotFound("no case for this sign-in")
    return subject


def _rule_words(lang: str, rrule: str) -> str:
    text = rrule.upper().removeprefix("RRULE:")
    if text == "FREQ=DAILY":
        return say(lang, "rule.daily")
    if text.startswith("FREQ=WEEKLY") and "BYDAY=" in text:
        return say(lang, "rule.weekly", days=text.split("BYDAY=")[1].split(";")[0])
    return text


def describe_condition(lang: str, kind: str, spec: dict) -> str:
    if kind == "curfew":
        start = str(spec.get("start_local", ""))
        return say(lang, "condition.curfew", zone=spec.get("zone_name") or say(lang, "your_address"),
                   hours=round(int(spec.get("duration_minutes", 0)) / 60, 1), time=start[11:16],
                   rule=_rule_words(lang, str(spec.get("rrule", ""))))
    if kind == "zone":
        return say(lang, f"condition.zone.{spec.get('zone_type')}", name=spec.get("name", ""))
    if kind == "check_in_policy":
        return say(lang, "condition.check_in_policy", n=spec.get("prompts_per_day"),
                   start=spec.get("waking_start", "08:00"), end=spec.get("waking_end", "21:00"),
                   minutes=spec.get("response_minutes", 15))
    return kind


def schedule(*, uow: UnitOfWork) -> dict:
    """Active orders with their conditions in words, the in-person arrangement, and review dates."""
    subject = me(uow=uow)
    lang = language_for(subject.preferred_language)
    now = uow.clock.now()
    orders = uow.session.scalars(select(Order).where(Order.subject_id == subject.id)
                                 .order_by(Order.starts_at.desc())).all()
    out = []
    for order in orders:
        conditions = uow.session.scalars(select(Condition).where(Condition.order_id == order.id)
                                         .order_by(Condition.created_at, Condition.id)).all()
        out.append({"order_id": str(order.id), "status": order.status, "legal_basis": order.legal_basis,
                    "starts_at": order.starts_at, "ends_at": order.ends_at,
                    "next_review_due": order.next_review_due,
                    "conditions": [{"id": str(c.id), "kind": c.kind, "text": describe_condition(lang, c.kind, c.spec)}
                                   for c in conditions]})
    arrangement = in_person.active_arrangement(uow=uow, subject_id=subject.id, at=now)
    uow.record_read("subject", subject.id, detail={"view": "schedule"})
    return {"subject_id": str(subject.id), "language": lang, "time_zone": subject.time_zone, "orders": out,
            "in_person": None if arrangement is None else {
                "text": say(lang, "condition.in_person", start=arrangement.window_start, end=arrangement.window_end),
                "since": arrangement.starts_at}}


def check_in_words(lang: str, prompt: CheckInPrompt) -> str:
    if prompt.status in ("missed", "withdrawn", "pending"):
        return say(lang, f"check_in.{prompt.status}")
    if prompt.status == in_person.REPORTED:
        return say(lang, "check_in.reported_in_person")
    return say(lang, f"check_in.{prompt.reason}") if prompt.reason else say(lang, "check_in.pending")


def my_check_ins(*, uow: UnitOfWork, limit: int = 100, offset: int = 0) -> list[PlainItem]:
    """Past and current check-ins only: future prompt times are not shown to anyone."""
    subject = me(uow=uow)
    lang = language_for(subject.preferred_language)
    rows = uow.session.scalars(
        select(CheckInPrompt).join(Subject, Subject.id == CheckInPrompt.subject_id)
        .where(subject_visible(uow.actor), CheckInPrompt.opens_at <= uow.clock.now())
        .order_by(CheckInPrompt.opens_at.desc()).limit(limit).offset(offset)).all()
    uow.record(AuditAction.LIST, "check_in", None, detail={"subject_id": str(subject.id),
                                                           "ids": [str(r.id) for r in rows]})
    return [PlainItem(id=r.id, at=r.opens_at, what=check_in_words(lang, r),
                      detail={"status": r.status, "method": r.method, "outcome": r.outcome, "reason": r.reason,
                              "deadline": r.closes_at.isoformat()}) for r in rows]


def my_alerts(*, uow: UnitOfWork, limit: int = 100, offset: int = 0) -> list[PlainItem]:
    subject = me(uow=uow)
    lang = language_for(subject.preferred_language)
    rows = uow.session.scalars(
        select(Alert).join(Subject, Subject.id == Alert.subject_id).where(subject_visible(uow.actor))
        .order_by(Alert.raised_at.desc(), Alert.id).limit(limit).offset(offset)).all()
    uow.record(AuditAction.LIST, "alert", None, detail={"subject_id": str(subject.id),
                                                        "ids": [str(r.id) for r in rows]})
    return [PlainItem(id=a.id, at=a.occurred_at, what=say(lang, f"alert.{a.kind}"),
                      detail={"kind": a.kind, "status": say(lang, f"status.{a.status}"),
                              "outcome": say(lang, f"outcome.{a.outcome}") if a.outcome else None,
                              "reason": a.reason}) for a in rows]


def arrangements_of(*, uow: UnitOfWork, subject: Subject) -> list[InPersonArrangement]:
    return list(uow.session.scalars(select(InPersonArrangement).where(InPersonArrangement.subject_id == subject.id)
                                    .order_by(InPersonArrangement.starts_at)))
