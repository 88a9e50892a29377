"""Subjects and case sharing between agencies, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Date, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.bounds import BirthDate
from custodes.db import Base, UTCDateTime, new_id


class Subject(Base):
    __tablename__ = "subjects"
    __audit_target__ = "subject"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False, index=True)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    date_of_birth: Mapped[date] = mapped_column(Date, nullable=False)
    nationality: Mapped[str] = mapped_column(String(2), nullable=False)
    preferred_language: Mapped[str] = mapped_column(String(35), nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SubjectShare(Base):
    """Another agency given sight of a case (e.g. probation for its cohort)."""

    __tablename__ = "subject_shares"
    __audit_target__ = "subject_share"
    __table_args__ = (UniqueConstraint("subject_id", "agency_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
    return value


class SubjectBase(BaseModel):
    full_name: str = Field(min_length=1, max_length=200)
    date_of_birth: BirthDate
    nationality: str = Field(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    preferred_language: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 tag")
    time_zone: str = Field(description="IANA time zone, e.g. Europe/London")

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_time_zone(v)


class SubjectCreate(SubjectBase):
    pass


class SubjectUpdate(BaseModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    date_of_birth: BirthDate | None = None
    nationality: str | None = Field(default=None, pattern="^[A-Z]{2}$")
    preferred_language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    time_zone: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_time_zone(v)


class SubjectRead(BaseModel):
    # No input checks on the way out: a record stored before a rule tightened must still be readable.
    full_name: str
    date_of_birth: date
    nationality: str
    preferred_language: str
    time_zone: str
    id: uuid.UUID
    agency_id: uuid.UUID
    created_at: datetime
    model_config = {"from_attributes": True}


class ShareCreate(BaseModel):
    agency_id: uuid.UUID


class ShareRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    agency_id: uuid.UUID
    created_at: datetime
    model_config = {"from_attributes": True}
