"""Sign-in with throttling, and the administration of agencies and officers."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, or_, select

from custodes.access import security, throttle
from custodes.actor import Actor, Role
from custodes.access.models import Agency, AgencyCreate, Installation, SignInThrottle, User, UserCreate
from custodes.audit.models import AuditAction
from custodes.config import Settings
from custodes.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from custodes.pagination import paged
from custodes.uow import UnitOfWork


def throttle_rows(session, settings: Settings, name: str, address: str | None) -> tuple[dict, dict]:
    """The throttle keys of one attempt (username, address, both) with their stored counts; shared by
    the officers' and the monitored people's sign-in (whose names carry their own prefix)."""
    steps = throttle.Policy.from_settings(settings).keys(name, address)
    return steps, {key: session.get(SignInThrottle, key) for key in steps}


def throttle_wait(rows: dict, now) -> int:
    return max((int((r.wait_until - now).total_seconds()) + 1 for r in rows.values()
                if r is not None and r.wait_until is not None and r.wait_until > now), default=0)


def throttle_failure(session, steps: dict, rows: dict, now) -> None:
    for key, step in steps.items():
        row = rows[key] or SignInThrottle(key=key, failures=0)
        row.failures = throttle.current(row.failures, row.last_failure_at, now) + 1
        row.last_failure_at = now
        delay = step.delay(row.failures)
        row.wait_until = now + timedelta(seconds=delay) if delay else None
        session.add(row)


def throttle_success(session, rows: dict) -> None:
    # A success clears this account's counts, but not the address's: one good account must not
    # reset the count of a client guessing others.
    for key, row in rows.items():
        if row is not None and not key.startswith("addr:"):
            session.delete(row)


def sign_in(*, uow: UnitOfWork, settings: Settings, token_key: bytes, username: str, password: str,
            address: str | None = None) -> str:
    """Check a password; commit the outcome (failures too, so throttling survives a 401)."""
    now = uow.clock.now()
    name = username.strip().lower()
    s = uow.session
    steps, rows = throttle_rows(s, settings, name, address)
    if wait := throttle_wait(rows, now):
        uow.record(AuditAction.SIGN_IN_FAILED, "user", None, detail={"username": name, "reason": "throttled",
                                                                     "address": address})
        uow.commit()
        raise TooManyRequests(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    user = s.scalars(select(User).where(User.username == name)).first()
    good = security.check_password(user.password_hash if user else None, password)
    if good and password == security.DEMO_PASSWORD and not is_demo(uow=uow):
        good = False  # the published demo password opens demo databases only
    if not good or not user.active:
        throttle_failure(s, steps, rows, now)
        uow.record(AuditAction.SIGN_IN_FAILED, "user", user.id if user else None,
                   detail={"username": name, "address": address})
        uow.commit()
        raise Unauthorized("wrong username or password")
    throttle_success(s, rows)
    uow.actor = Actor(kind="user", id=str(user.id), name=user.username, agency_id=user.agency_id,
                      role=Role(user.role))
    uow.record(AuditAction.SIGN_IN, "user", user.id)
    token = security.issue_token(token_key, user_id=user.id, agency_id=user.agency_id, role=user.role, now=now,
                                 minutes=settings.token_minutes)
    uow.commit()
    return token


def unlock(*, uow: UnitOfWork, user_id: uuid.UUID, agency_id: uuid.UUID | None) -> User:
    """Clear an officer's sign-in delays at once (an administrator's answer to a lockout attack)."""
    user = uow.session.get(User, user_id)
    if user is None or (agency_id is not None and user.agency_id != agency_id):
        raise NotFound(f"user {user_id} not found")
    alone, pairs = throttle.user_keys(user.username)
    cleared = uow.session.execute(delete(SignInThrottle).where(
        or_(SignInThrottle.key == alone, SignInThrottle.key.startswith(pairs, autoescape=True)))).rowcount
    uow.record(AuditAction.UPDATE, "user", user.id, detail={"sign_in_unlocked": True, "keys_cleared": cleared})
    return user


def is_demo(*, uow: UnitOfWork) -> bool:
    row = uow.session.get(Installation, 1)
    return row is not None and row.kind == "demo"


def mark_installation(*, uow: UnitOfWork, kind: str) -> None:
    uow.session.add(Installation(id=1, kind=kind, created_at=uow.clock.now()))


def is_empty(*, uow: UnitOfWork) -> bool:
    """No agency and no officer yet: a database `init` or `demo` may set up."""
    s = uow.session
    return s.scalar(select(Agency.id).limit(1)) is None and s.scalar(select(User.id).limit(1)) is None


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


def get_user_by_name(*, uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(f"no officer named {username!r}")
    return user


def create_user(*, uow: UnitOfWork, data: UserCreate, agency_id: uuid.UUID) -> User:
    name = data.username.lower()
    if uow.session.get(Agency, agency_id) is None:
        raise Invalid.field("agency_id", "no such agency")
    if uow.session.scalars(select(User).where(User.username == name)).first():
        raise Conflict(f"username {name!r} is taken")
    if data.password == security.DEMO_PASSWORD and not is_demo(uow=uow):
        raise Invalid.field("password", "the published demo password is for demo databases only")
    user = User(id=uuid.uuid4(), username=name, password_hash=security.hash_password(data.password),
                agency_id=agency_id, role=str(data.role), active=True, created_at=uow.clock.now())
    uow.session.add(user)
    return user


def list_users(*, uow: UnitOfWork, agency_id: uuid.UUID, limit: int, offset: int) -> tuple[list[User], int]:
    q = select(User).where(User.agency_id == agency_id).order_by(User.username)
    return paged(uow.session, q, limit, offset)
