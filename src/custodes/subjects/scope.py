"""Agency scoping, applied inside repository queries.

An officer sees the cases owned by their agency and those shared with it; anything else does not
exist for them (404, never 403, so existence does not leak).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select

from custodes.actor import Actor
from custodes.errors import NotFound
from custodes.subjects.models import Subject, SubjectShare

T = TypeVar("T")


def subject_visible(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause over `Subject` that keeps only what this actor may see."""
    if actor.kind == "system":
        return Subject.id.is_not(None)
    if actor.kind == "subject":  # the monitored person sees their own case, and nothing else
        return Subject.id == uuid.UUID(actor.id)
    if actor.agency_id is None:
        return Subject.id.is_(None)
    shared = select(SubjectShare.subject_id).where(SubjectShare.agency_id == actor.agency_id)
    return or_(Subject.agency_id == actor.agency_id, Subject.id.in_(shared))


def subject_owned(actor: Actor) -> ColumnElement[bool]:
    """Changes to a case are for its owning agency only."""
    if actor.kind == "system":
        return Subject.id.is_not(None)
    if actor.agency_id is None:  # the person themselves, devices: never change a case
        return Subject.id.is_(None)
    return Subject.agency_id == actor.agency_id


def load_through_subject(uow: Any, model: type[T], obj_id: Any, what: str, *, for_change: bool = False) -> T:
    """Row `obj_id` of a table with a `subject_id`, if its subject is visible (or owned) to the actor."""
    scope = subject_owned(uow.actor) if for_change else subject_visible(uow.actor)
    row = uow.session.scalars(select(model).join(Subject, Subject.id == model.subject_id)
                              .where(model.id == obj_id, scope)).first()
    if row is None:
        raise NotFound(f"{what} {obj_id} not found")
    return row
