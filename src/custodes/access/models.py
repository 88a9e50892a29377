"""Agencies, officers and sign-in throttling state, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.actor import Role
from custodes.db import Base, UTCDateTime, new_id


class Agency(Base):
    __tablename__ = "agencies"
    __audit_target__ = "agency"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # home_office, probation, police, monitoring


class User(Base):
    __tablename__ = "users"
    __audit_target__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SignInThrottle(Base):
    """Failed sign-ins per key (username, source network, or both; see throttle.py) and when the
    next attempt is allowed. A success clears the username's keys."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Installation(Base):
    """One row saying what this database is for: `production` (made by `custodes init`) or `demo`
    (made by `custodes demo`, the only kind that may hold the published demo password)."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


AGENCY_KINDS = ("home_office", "probation", "police", "monitoring_centre")


class AgencyCreate(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    kind: str = Field(pattern="^(" + "|".join(AGENCY_KINDS) + ")$")


class AgencyRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    model_config = {"from_attributes": True}


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-zA-Z0-9._-]+$")
    password: str = Field(min_length=12, max_length=256)
    role: Role
    agency_id: uuid.UUID | None = None  # defaults to the creating admin's agency


class UserRead(BaseModel):
    id: uuid.UUID
    username: str
    agency_id: uuid.UUID
    role: Role
    active: bool
    model_config = {"from_attributes": True}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ConsoleSession(Base):
    """A signed-in console session. The cookie carries its secret; the row is what makes it valid, so
    signing out ends it for any copy of the cookie. Opening and ending one are audited writes."""

    __tablename__ = "console_sessions"
    __audit_target__ = "console_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's session secret
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
