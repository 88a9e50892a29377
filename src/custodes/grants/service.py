"""Use cases on trail grants, and the check every police trail read goes through.

Police never browse: they find a subject only by an exact name and date of birth they already hold
(audited with its purpose), learn nothing but the id and the owning agency, and ask for a grant.
Only a caseworker of the owning agency decides it, with a reason; an approved grant opens one
window of one subject's trail, for its purpose, to the officer who asked, until it expires.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from custodes.access.actor import Role
from custodes.access.scope import subject_owned
from custodes.audit.models import AuditAction
from custodes.errors import Conflict, Forbidden, NotFound
from custodes.grants.models import (
    GrantCreate,
    GrantDecision,
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
