"""Trail grants (a police officer's request and the owning agency's decision) and their API shapes."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id
from custodes.subjects import models as _subjects  # noqa: F401  (foreign key target)

MAX_GRANT_WINDOW = timedelta(days=31)
MAX_ACCESS_HOURS = 14 * 24


class PolicePurpose(enum.StrEnum):
    """Why police may ask for a trail; the only purposes a grant can carry."""

    SUSPECTED_BREACH = "suspected_breach"
    LOST_CONTACT = "lost_contact"
    OFFENCE_INVESTIGATION = "offence_investigation"  # needs a crime reference


class TrailPurpose(enum.StrEnum):
    """Every purpose for which a trail may be read, by anyone; free-text detail goes beside it."""

    CASE_MANAGEMENT = "case_management"
    ALERT_TRIAGE = "alert_triage"
    QUARTERLY_REVIEW = "quarterly_review"
    COURT_PROCEEDINGS = "court_proceedings"
    SUBJECT_REQUEST = "subject_request"
    SUSPECTED_BREACH = PolicePurpose.SUSPECTED_BREACH.value
    LOST_CONTACT = PolicePurpose.LOST_CONTACT.value
    OFFENCE_INVESTIGATION = PolicePurpose.OFFENCE_INVESTIGATION.value


class GrantStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"  # was live; ended early by the owning agency, or withdrawn by the officer


class TrailGrant(Base):
    """One police request for one subject, one purpose and one window; approved or refused once."""

    __tablename__ = "trail_grants"
    __audit_target__ = "trail_grant"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    requesting_agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    crime_reference: Mapped[str | None] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    window_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    window_to: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    access_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=GrantStatus.PENDING)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)


# -- API shapes --------------------------------------------------------------------------------
class SubjectLookup(BaseModel):
    """What police must already know to find a subject: exact full name and date of birth."""

    full_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date
    purpose: PolicePurpose
    crime_reference: str | None = Field(default=None, min_length=3, max_length=64)


class SubjectMatch(BaseModel):
    """All police learn before a grant: that the person is monitored, and by which agency."""

    subject_id: uuid.UUID
    agency_id: uuid.UUID


class GrantCreate(BaseModel):
    subject_id: uuid.UUID
    purpose: PolicePurpose
    crime_reference: str | None = Field(default=None, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9/._-]+$")
    justification: str = Field(min_length=10, max_length=4000)
    window_from: AwareDatetime
    window_to: AwareDatetime
    access_hours: int = Field(default=72, ge=1, le=MAX_ACCESS_HOURS,
                              description="how long the grant lasts once approved")

    @model_validator(mode="after")
    def _check(self) -> GrantCreate:
        if self.window_to <= self.window_from:
            raise ValueError("window_to must be after window_from")
        if self.window_to - self.window_from > MAX_GRANT_WINDOW:
            raise ValueError(f"a grant window is at most {MAX_GRANT_WINDOW.days} days")
        if self.purpose is PolicePurpose.OFFENCE_INVESTIGATION and not self.crime_reference:
            raise ValueError("an offence investigation needs its crime reference")
        return self


class GrantDecision(BaseModel):
    approve: bool
    reason: str = Field(min_length=3, max_length=2000)


class GrantRevoke(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="why access ends before it expires")


class GrantRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    requested_by: uuid.UUID
    requesting_agency_id: uuid.UUID
    purpose: PolicePurpose
    crime_reference: str | None
    justification: str
    window_from: datetime
    window_to: datetime
    access_hours: int
    requested_at: datetime
    status: GrantStatus
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    expires_at: datetime | None
    revoked_by: uuid.UUID | None
    revoked_at: datetime | None
    revocation_reason: str | None
    model_config = {"from_attributes": True}


class GrantEvent(BaseModel):
    """One line of a grant's history: its own steps, and every police read tried under it."""

    at: datetime
    event: Literal["requested", "approved", "refused", "revoked", "withdrawn", "expired", "read", "read_refused"]
    by: uuid.UUID | None = None
    reason: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
