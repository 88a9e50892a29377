"""Face enrolments, encrypted face photos, drawn prompts and check-in attempts, with API shapes.

Biometric bytes (templates, photos) are only ever stored sealed (see `crypto`), with the id of
the key that sealed them; none of the API shapes below carries them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, JSONType, UTCDateTime, new_id
from custodes.devices import models as _devices  # noqa: F401  (foreign key targets)
from custodes.orders import models as _orders  # noqa: F401
from custodes.subjects import models as _subjects  # noqa: F401

# The machine may only write these three outcomes; the database refuses anything else.
MACHINE_OUTCOME_SQL = "outcome IS NULL OR outcome IN ('verified', 'not_verified', 'inconclusive')"


class FaceEnrolment(Base):
    """One enrolment: the template made from one or more reference photos. Re-enrolment marks
    the previous one superseded; deletion wipes the sealed bytes and keeps the record."""

    __tablename__ = "face_enrolments"
    __audit_target__ = "face_enrolment"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")  # active|superseded|deleted
    template_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(40))
    engine_version: Mapped[str] = mapped_column(String(300), nullable=False)
    image_count: Mapped[int] = mapped_column(Integer, nullable=False)
    quality: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    end_reason: Mapped[str | None] = mapped_column(Text)


class FacePhoto(Base):
    """A sealed face image: an enrolment reference or a check-in probe (or challenge frame)."""

    __tablename__ = "face_photos"
    __audit_target__ = "face_photo"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # reference | probe
    enrolment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("face_enrolments.id"), index=True)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    content_type: Mapped[str] = mapped_column(String(32), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    photo_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckInDay(Base):
    """Marks a subject's local day as drawn, so the draw happens once even with several workers."""

    __tablename__ = "checkin_days"
    __table_args__ = (UniqueConstraint("subject_id", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    prompts: Mapped[int] = mapped_column(Integer, nullable=False)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CheckInPrompt(Base):
    """One unannounced prompt. `outcome` is the machine's (verified / not_verified / inconclusive);
    a human's conclusion lives on the review item, never here."""

    __tablename__ = "checkin_prompts"
    __audit_target__ = "check_in"
    __table_args__ = (
        UniqueConstraint("subject_id", "opens_at"),
        CheckConstraint(MACHINE_OUTCOME_SQL, name="machine_outcome"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # pending|decided|missed
    challenge: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failures_to_acquire: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # face: answered by the device's photo; in_person: the day's reporting requirement, answered
    # by a wristband scan at a reporting centre (status "reported" once satisfied).
    method: Mapped[str] = mapped_column(String(16), nullable=False, default="face", server_default="face")


class InPersonArrangement(Base):
    """A caseworker's decision that this person reports in person instead of by face (NIST SP
    800-63B-4 asks for a non-biometric alternative): why, since when, until when."""

    __tablename__ = "in_person_arrangements"
    __audit_target__ = "in_person_arrangement"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    grounds: Mapped[str] = mapped_column(String(32), nullable=False)  # failure_to_acquire | injury | medical | other
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    window_start: Mapped[str] = mapped_column(String(5), nullable=False)  # local HH:MM
    window_end: Mapped[str] = mapped_column(String(5), nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class InPersonReport(Base):
    """A person seen at a reporting centre: their wristband scanned and a member of staff's confirmation."""

    __tablename__ = "in_person_reports"
    __audit_target__ = "in_person_report"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    prompt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkin_prompts.id", ondelete="SET NULL"))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), nullable=False)
    centre: Mapped[str] = mapped_column(String(200), nullable=False)
    confirmed_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    note: Mapped[str | None] = mapped_column(Text)


class CheckInAttempt(Base):
    """One submission for a prompt, with everything the decision was based on."""

    __tablename__ = "checkin_attempts"
    __audit_target__ = "check_in_attempt"
    __table_args__ = (CheckConstraint(MACHINE_OUTCOME_SQL, name="machine_outcome"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_prompts.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    target_fmr: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(300), nullable=False)
    quality: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    liveness: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    counts_as_failure: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failure_to_acquire: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    enrolment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("face_enrolments.id"))
    probe_photo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("face_photos.id"))


# -- API shapes --------------------------------------------------------------------------------

class EnrolmentRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    status: str
    engine_version: str
    image_count: int
    quality: list[dict[str, Any]]
    key_id: str | None
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    model_config = {"from_attributes": True}


class PendingPrompt(BaseModel):
    prompt_id: uuid.UUID
    opens_at: datetime
    deadline: datetime
    challenge: dict[str, Any]


class PendingRead(BaseModel):
    """`prompt` is null when nothing is open now; future prompt times are never revealed."""

    prompt: PendingPrompt | None


class SubmissionRead(BaseModel):
    prompt_id: uuid.UUID
    attempt_id: uuid.UUID
    status: str  # decided | retry
    outcome: str
    reason: str
    message: str
    next_challenge: dict[str, Any] | None = None


class InPersonCreate(BaseModel):
    grounds: Literal["failure_to_acquire", "injury", "medical", "other"]
    reason: str = Field(min_length=3, max_length=2000)
    window_start: time = Field(default=time(9, 0), description="local time the reporting centre opens")
    window_end: time = Field(default=time(17, 0), description="local time by which the person must report")

    @field_validator("window_end")
    @classmethod
    def _after(cls, v: time, info: ValidationInfo) -> time:
        start = info.data.get("window_start")
        if start is not None and v <= start:
            raise ValueError("the reporting window must end after it starts")
        return v


class InPersonEnd(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


class InPersonRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    grounds: str
    reason: str
    window_start: str
    window_end: str
    evidence: dict[str, Any]
    starts_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    model_config = {"from_attributes": True}


class ScanLookup(BaseModel):
    barcode: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class ScanPerson(BaseModel):
    """What staff see to confirm the person in front of them: no trail, no face, no health data."""

    subject_id: uuid.UUID
    full_name: str
    date_of_birth: date
    device_id: uuid.UUID
    barcode: str
    requirement_open: bool
    requirement_deadline: datetime | None


class ScanConfirm(ScanLookup):
    subject_id: uuid.UUID = Field(description="the person the lookup showed, confirmed by staff")
    centre: str = Field(min_length=2, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class InPersonReportRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    prompt_id: uuid.UUID | None
    device_id: uuid.UUID
    centre: str
    reported_at: datetime
    note: str | None
    model_config = {"from_attributes": True}


class CheckInRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    opens_at: datetime
    closes_at: datetime
    status: str
    outcome: str | None
    reason: str | None
    decision: dict[str, Any] | None
    decided_at: datetime | None
    attempts: int
    failures_to_acquire: int
    method: str = "face"
    model_config = {"from_attributes": True}
