"""Agency scoping, applied inside repository queries.

An officer sees the cases owned by their agency and those shared with it; anything else does not
exist for them (404, never 403, so existence does not leak).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from custodes.access.actor import Actor
from custodes.subjects.models import Subject, SubjectShare


def subject_visible(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause over `Subject` that keeps only what this actor may see."""
    if actor.kind == "system":
        return Subject.id.is_not(None)
    if actor.agency_id is None:
        return Subject.id.is_(None)
    shared = select(SubjectShare.subject_id).where(SubjectShare.agency_id == actor.agency_id)
    return or_(Subject.agency_id == actor.agency_id, Subject.id.in_(shared))


def subject_owned(actor: Actor) -> ColumnElement[bool]:
    """Changes to a case are for its owning agency only."""
    if actor.kind == "system":
        return Subject.id.is_not(None)
    return Subject.agency_id == actor.agency_id
