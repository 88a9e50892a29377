"""Use cases on trail grants, and the check every police trail read goes through.

Police never browse: they find a subject only by an exact name and date of birth they already hold
(audited with its purpose), learn nothing but the id and the owning agency, and ask for a grant.
Only a caseworker of the owning agency decides it, with a reason; an approved grant opens one
window of one subject's trail, for its purpose, to the officer who asked, until it expires or is
revoked (by that agency) or withdrawn (by that officer), with a reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from custodes.actor import Role
from custodes.subjects.scope import subject_owned
from custodes.audit.models import AuditAction, AuditEntry
from custodes.errors import Conflict, Forbidden, NotFound
from custodes.grants.models import (
    GrantCreate,
    GrantDecision,
    GrantEvent,
    GrantRevoke,
    GrantStatus,
    SubjectLookup,
    SubjectMatch,
    TrailGrant,
)
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork


class ReadRefused(Forbidden):
    """A police trail read the grants do not cover; the caller audits it in its own transaction."""

    kind, title = "trail-read-refused", "Trail read refused"


def lookup_subject(*, uow: UnitOfWork, data: SubjectLookup) -> list[SubjectMatch]:
    """Exact match only (no wildcards, no partial names), so this cannot be used to browse."""
    rows = uow.session.execute(select(Subject.id, Subject.agency_id).where(
        Subject.full_name == data.full_name, Subject.date_of_birth == data.date_of_birth)).all()
    uow.record(AuditAction.LIST, "subject", None, purpose=str(data.purpose),
               detail={"lookup": "police", "ids": [str(r.id) for r in rows],
                       "crime_reference": data.crime_reference})
    return [SubjectMatch(subject_id=r.id, agency_id=r.agency_id) for r in rows]


def request(*, uow: UnitOfWork, data: GrantCreate) -> TrailGrant:
    if uow.session.get(Subject, data.subject_id) is None:
        raise NotFound(f"subject {data.subject_id} not found")
    grant = TrailGrant(id=uuid.uuid4(), subject_id=data.subject_id, requested_by=uuid.UUID(uow.actor.id),
                       requesting_agency_id=uow.actor.agency_id, purpose=str(data.purpose),
                       crime_reference=data.crime_reference, justification=data.justification,
                       window_from=data.window_from, window_to=data.window_to, access_hours=data.access_hours,
                       requested_at=uow.clock.now(), status=GrantStatus.PENDING)
    uow.session.add(grant)
    return grant


def _visible(uow: UnitOfWork):
    """Police see the grants they asked for; caseworkers those on their agency's cases; auditors all."""
    q = select(TrailGrant)
    role = uow.actor.role
    if role is Role.POLICE:
        return q.where(TrailGrant.requested_by == uuid.UUID(uow.actor.id))
    if role is Role.AUDITOR:
        return q
    return q.join(Subject, Subject.id == TrailGrant.subject_id).where(subject_owned(uow.actor))


def list_grants(*, uow: UnitOfWork, status: GrantStatus | None = None) -> list[TrailGrant]:
    q = _visible(uow).order_by(TrailGrant.requested_at.desc(), TrailGrant.id)
    if status is not None:
        q = q.where(TrailGrant.status == str(status))
    return list(uow.session.scalars(q).all())


def get(*, uow: UnitOfWork, grant_id: uuid.UUID) -> TrailGrant:
    grant = uow.session.scalars(_visible(uow).where(TrailGrant.id == grant_id)).first()
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    return grant


def decide(*, uow: UnitOfWork, grant_id: uuid.UUID, data: GrantDecision) -> TrailGrant:
    """Only the owning agency decides: a grant on another agency's case does not exist for it."""
    grant = uow.session.scalars(select(TrailGrant).join(Subject, Subject.id == TrailGrant.subject_id)
                                .where(TrailGrant.id == grant_id, subject_owned(uow.actor))).first()
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    if grant.status != GrantStatus.PENDING:
        raise Conflict(f"grant {grant_id} was already {grant.status}")
    now = uow.clock.now()
    grant.status = GrantStatus.APPROVED if data.approve else GrantStatus.REFUSED
    grant.decided_by, grant.decided_at, grant.decision_reason = uuid.UUID(uow.actor.id), now, data.reason
    grant.expires_at = now + timedelta(hours=grant.access_hours) if data.approve else None
    uow.record(AuditAction.DECIDE, "trail_grant", grant.id, purpose=grant.purpose,
               detail={"approved": data.approve, "reason": data.reason})
    return grant


def revoke(*, uow: UnitOfWork, grant_id: uuid.UUID, data: GrantRevoke) -> TrailGrant:
    """End a live grant early: a caseworker of the owning agency revokes it, or the officer who asked
    withdraws it. Anyone else finds no such grant; reads under it are refused from this commit on."""
    q = select(TrailGrant).where(TrailGrant.id == grant_id)
    if uow.actor.role is Role.POLICE:
        q = q.where(TrailGrant.requested_by == uuid.UUID(uow.actor.id))
    else:
        q = q.join(Subject, Subject.id == TrailGrant.subject_id).where(subject_owned(uow.actor))
    grant = uow.session.scalars(q.with_for_update(of=TrailGrant)).first()  # the grant row, not the subject
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    now = uow.clock.now()
    if grant.status != GrantStatus.APPROVED:
        raise Conflict(f"grant {grant_id} is {grant.status}: only a live grant can be revoked")
    if grant.expires_at is None or now >= grant.expires_at:
        raise Conflict(f"grant {grant_id} has already expired")
    grant.status = GrantStatus.REVOKED
    grant.revoked_by, grant.revoked_at, grant.revocation_reason = uuid.UUID(uow.actor.id), now, data.reason
    uow.record(AuditAction.DECIDE, "trail_grant", grant.id, purpose=grant.purpose,
               detail={"revoked": True, "withdrawn": uow.actor.role is Role.POLICE, "reason": data.reason})
    return grant


def history(*, uow: UnitOfWork, grant_id: uuid.UUID) -> list[GrantEvent]:
    """The grant's own steps and every police read tried under it, in the audit log's order."""
    grant = get(uow=uow, grant_id=grant_id)
    # Each step's audit entry gives its place in the chain (times can tie; sequence numbers do not).
    seq = {}
    for e in uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "trail_grant",
                                                          AuditEntry.target_id == str(grant.id))):
        step = "requested" if e.action == AuditAction.CREATE else (
            "ended" if (e.detail or {}).get("revoked") else "decided" if e.action == AuditAction.DECIDE else None)
        if step:
            seq.setdefault(step, e.seq)
    events = [(grant.requested_at, seq.get("requested", 0), GrantEvent(
        at=grant.requested_at, event="requested", by=grant.requested_by, reason=grant.justification,
        detail={"purpose": grant.purpose, "crime_reference": grant.crime_reference,
                "window_from": grant.window_from.isoformat(), "window_to": grant.window_to.isoformat(),
                "access_hours": grant.access_hours}))]
    if grant.decided_at is not None:
        approved = grant.status != GrantStatus.REFUSED
        events.append((grant.decided_at, seq.get("decided", 0), GrantEvent(
            at=grant.decided_at, event="approved" if approved else "refused", by=grant.decided_by,
            reason=grant.decision_reason,
            detail={"expires_at": grant.expires_at.isoformat()} if grant.expires_at else {})))
    if grant.revoked_at is not None:
        events.append((grant.revoked_at, seq.get("ended", 0), GrantEvent(
            at=grant.revoked_at, by=grant.revoked_by, reason=grant.revocation_reason,
            event="withdrawn" if grant.revoked_by == grant.requested_by else "revoked")))
    elif grant.status == GrantStatus.APPROVED and grant.expires_at <= uow.clock.now():
        events.append((grant.expires_at, 0, GrantEvent(at=grant.expires_at, event="expired")))
    # Reads are audited against the subject's trail; those naming this grant belong to its history.
    for e in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "trail", AuditEntry.target_id == str(grant.subject_id),
            AuditEntry.action.in_((str(AuditAction.READ), str(AuditAction.REFUSE))))):
        d = e.detail or {}
        if d.get("grant_id") != str(grant.id):
            continue
        refused = e.action == AuditAction.REFUSE
        events.append((e.at, e.seq, GrantEvent(
            at=e.at, event="read_refused" if refused else "read", by=uuid.UUID(e.actor_id) if e.actor_id else None,
            reason=d.get("reason") if refused else None,
            detail={k: d[k] for k in ("from", "to", "points", "purpose_detail") if k in d})))
    uow.record_read("trail_grant", grant.id, detail={"history": True})
    return [ev for _, _, ev in sorted(events, key=lambda x: (x[0], x[1]))]


def refusal(grant: TrailGrant, *, subject_id: uuid.UUID, purpose: str, t_from: datetime, t_to: datetime,
            now: datetime) -> str | None:
    """Why this grant does not cover the read, or None when it does. Pure: tested without a database."""
    if grant.subject_id != subject_id:
        return "the grant is for another subject"
    if grant.status != GrantStatus.APPROVED:
        return f"the grant is {grant.status}"
    if grant.expires_at is None or now >= grant.expires_at:
        return "the grant has expired"
    if purpose != grant.purpose:
        return f"the grant is for {grant.purpose}, not {purpose}"
    if t_from < grant.window_from or t_to > grant.window_to:
        return "the window asked for lies outside the grant's window"
    return None


def authorise_police_read(*, uow: UnitOfWork, grant_id: uuid.UUID | None, subject_id: uuid.UUID, purpose: str,
                          t_from: datetime, t_to: datetime) -> TrailGrant:
    """The grant that covers this police read, else ReadRefused with the reason."""
    if grant_id is None:
        raise ReadRefused("police read a trail only under a grant: give grant_id")
    grant = uow.session.scalars(select(TrailGrant).where(
        TrailGrant.id == grant_id, TrailGrant.requested_by == uuid.UUID(uow.actor.id))).first()
    if grant is None:
        raise ReadRefused(f"no grant {grant_id} was made to this officer")
    reason = refusal(grant, subject_id=subject_id, purpose=purpose, t_from=t_from, t_to=t_to, now=uow.clock.now())
    if reason:
        raise ReadRefused(reason)
    return grant
