"""Sign-in with throttling, and the administration of agencies and officers."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from custodes.access import security
from custodes.access.actor import Actor, Role
from custodes.access.models import Agency, AgencyCreate, SignInFailure, User, UserCreate
from custodes.audit.models import AuditAction
from custodes.config import Settings
from custodes.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from custodes.pagination import paged
from custodes.uow import UnitOfWork


def sign_in(*, uow: UnitOfWork, settings: Settings, token_key: bytes, username: str, password: str) -> str:
    """Check a password; commit the outcome (failures too, so throttling survives a 401)."""
    now = uow.clock.now()
    name = username.strip().lower()
    s = uow.session
    failure = s.get(SignInFailure, name)
    if failure and failure.locked_until and failure.locked_until > now:
        wait = int((failure.locked_until - now).total_seconds()) + 1
        uow.record(AuditAction.SIGN_IN_FAILED, "user", None, detail={"username": name, "reason": "throttled"})
        uow.commit()
        raise TooManyRequests(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    user = s.scalars(select(User).where(User.username == name)).first()
    if not security.check_password(user.password_hash if user else None, password) or not user.active:
        failure = failure or SignInFailure(username=name, failures=0)
        failure.failures += 1
        over = failure.failures - settings.sign_in_max_failures
        if over >= 0:
            # Exponential back-off, capped at an hour.
            failure.locked_until = now + timedelta(seconds=min(settings.sign_in_lockout_seconds * 2**over, 3600))
        s.add(failure)
        uow.record(AuditAction.SIGN_IN_FAILED, "user", user.id if user else None, detail={"username": name})
        uow.commit()
        raise Unauthorized("wrong username or password")
    if failure:
        s.delete(failure)
    uow.actor = Actor(kind="user", id=str(user.id), name=user.username, agency_id=user.agency_id,
                      role=Role(user.role))
    uow.record(AuditAction.SIGN_IN, "user", user.id)
    token = security.issue_token(token_key, user_id=user.id, agency_id=user.agency_id, role=user.role, now=now,
                                 minutes=settings.token_minutes)
    uow.commit()
    return token


def load_officer(*, uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
    user = uow.session.get(User, user_id)
    return user if user and user.active else None


def create_agency(*, uow: UnitOfWork, data: AgencyCreate) -> Agency:
    if uow.session.scalars(select(Agency).where(Agency.name == data.name)).first():
        raise Conflict(f"an agency named {data.name!r} already exists")
    agency = Agency(id=uuid.uuid4(), name=data.name, kind=data.kind)
    uow.session.add(agency)
    return agency


def list_agencies(*, uow: UnitOfWork) -> list[Agency]:
    return list(uow.session.scalars(select(Agency).order_by(Agency.name)))


def get_agency_by_name(*, uow: UnitOfWork, name: str) -> Agency:
    agency = uow.session.scalars(select(Agency).where(Agency.name == name)).first()
    if agency is None:
        raise NotFound(f"no agency named {name!r}")
    return agency


def create_user(*, uow: UnitOfWork, data: UserCreate, agency_id: uuid.UUID) -> User:
    name = data.username.lower()
    if uow.session.get(Agency, agency_id) is None:
        raise Invalid.field("agency_id", "no such agency")
    if uow.session.scalars(select(User).where(User.username == name)).first():
        raise Conflict(f"username {name!r} is taken")
    user = User(id=uuid.uuid4(), username=name, password_hash=security.hash_password(data.password),
                agency_id=agency_id, role=str(data.role), active=True, created_at=uow.clock.now())
    uow.session.add(user)
    return user


def list_users(*, uow: UnitOfWork, agency_id: uuid.UUID, limit: int, offset: int) -> tuple[list[User], int]:
    q = select(User).where(User.agency_id == agency_id).order_by(User.username)
    return paged(uow.session, q, limit, offset)
