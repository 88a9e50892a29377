"""Subject credentials, representations and caseworker tasks, with their API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id
from custodes.subjects import models as _subjects  # noqa: F401  (foreign key target)

TaskKind = Literal["contest", "representation"]
ContestTarget = Literal["check_in", "alert", "review_item", "in_person_arrangement"]
TaskDecision = Literal["upheld", "partly_upheld", "not_upheld"]


class SubjectCredential(Base):
    """The monitored person's own sign-in, issued by a caseworker at enrolment (argon2id, like officers)."""

    __tablename__ = "subject_credentials"
    __audit_target__ = "subject_credential"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  unique=True)
    username: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    issued_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Representation(Base):
    """Something the person wants considered (free text, optional attachment), e.g. medical evidence."""

    __tablename__ = "representations"
    __audit_target__ = "representation"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # representation | medical_evidence
    text: Mapped[str] = mapped_column(Text, nullable=False)
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(64))
    attachment_size: Mapped[int | None] = mapped_column(Integer)
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CaseTask(Base):
    """Work for a human with a deadline: a contested decision or a representation to consider.

    It is answered with a decision and reasons the person can read."""

    __tablename__ = "case_tasks"
    __audit_target__ = "case_task"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    grounds: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


# -- API shapes --------------------------------------------------------------------------------

class CredentialIssued(BaseModel):
    subject_id: uuid.UUID
    username: str
    password: str = Field(description="shown once; give it to the person in private")
    issued_at: datetime


class SubjectToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class RepresentationRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    kind: str
    text: str
    attachment_name: str | None
    attachment_type: str | None
    attachment_size: int | None
    attachment_sha256: str | None
    submitted_at: datetime
    task: TaskRead | None = None
    model_config = {"from_attributes": True}


class ContestCreate(BaseModel):
    target_type: ContestTarget
    target_id: uuid.UUID
    grounds: str = Field(min_length=3, max_length=5000, description="why the person thinks the decision is wrong")


class TaskRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    kind: TaskKind
    target_type: str
    target_id: uuid.UUID
    grounds: str
    status: str
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None
    decision: TaskDecision | None
    reason: str | None
    model_config = {"from_attributes": True}


class TaskDecide(BaseModel):
    decision: TaskDecision
    reason: str = Field(min_length=10, max_length=5000, description="the reasons, in words the person can follow")


class PlainItem(BaseModel):
    """One thing shown to the person, with its meaning in plain words in their language."""

    id: uuid.UUID
    at: datetime
    what: str
    detail: dict[str, Any] = Field(default_factory=dict)


RepresentationRead.model_rebuild()
