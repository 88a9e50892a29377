"""Review items for check-ins the machine did not verify, and the reviewers' decisions.

An adverse outcome ("different person") is only ever stored on a review item that two different
reviewers both decided that way; a CHECK constraint holds the database itself to that, so no code
path (present or future) can record one without two human decisions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id


class ReviewDecisionKind(StrEnum):
    SAME_PERSON = "same_person"
    DIFFERENT_PERSON = "different_person"
    UNUSABLE = "unusable"


ADVERSE = ReviewDecisionKind.DIFFERENT_PERSON

ADVERSE_NEEDS_TWO_REVIEWERS = (
    "outcome IS NULL OR outcome <> 'different_person' OR ("
    "first_decision = 'different_person' AND second_decision = 'different_person' "
    "AND first_reviewer_id IS NOT NULL AND second_reviewer_id IS NOT NULL "
    "AND first_reviewer_id <> second_reviewer_id)"
)


class ReviewItem(Base):
    __tablename__ = "review_items"
    __audit_target__ = "review_item"
    __table_args__ = (
        CheckConstraint(ADVERSE_NEEDS_TWO_REVIEWERS, name="adverse_needs_two_reviewers"),
        UniqueConstraint("prompt_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_prompts.id", ondelete="CASCADE"),
                                                 nullable=False)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkin_attempts.id"))
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    machine_outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    first_reviewer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_decision: Mapped[str | None] = mapped_column(String(20))
    second_reviewer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    second_decision: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewDecision(Base):
    """One reviewer's decision on one item: the ground truth for live error-rate monitoring."""

    __tablename__ = "review_decisions"
    __audit_target__ = "review_decision"
    __table_args__ = (UniqueConstraint("item_id", "reviewer_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    decision: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


# -- API shapes --------------------------------------------------------------------------------

class ReviewDecisionCreate(BaseModel):
    decision: ReviewDecisionKind
    reason: str = Field(min_length=3, max_length=2000)


class ReviewDecisionRead(BaseModel):
    id: uuid.UUID
    reviewer_id: uuid.UUID
    decision: ReviewDecisionKind
    reason: str
    decided_at: datetime
    model_config = {"from_attributes": True}


class ReviewItemRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    prompt_id: uuid.UUID
    attempt_id: uuid.UUID | None
    reason: str
    machine_outcome: str
    score: float | None
    threshold: float | None
    status: str
    created_at: datetime
    outcome: ReviewDecisionKind | None
    closed_at: datetime | None
    model_config = {"from_attributes": True}


class ReviewItemDetail(ReviewItemRead):
    """What the reviewer sees: the decision record and where to fetch both faces (each fetch is
    an audited read)."""

    decision_record: dict[str, Any] | None
    decisions: list[ReviewDecisionRead]
    reference_photo_ids: list[uuid.UUID]
    probe_photo_id: uuid.UUID | None


class GroundTruthRow(BaseModel):
    item_id: uuid.UUID
    score: float | None
    threshold: float | None
    machine_outcome: str
    human_outcome: ReviewDecisionKind
    reviewers: int
    closed_at: datetime


class ErrorRateRow(BaseModel):
    """One live error figure from reviewers' decisions. `share` is k / n with a Wilson 95 %
    interval; decisions of "unusable" are left out of n and counted apart."""

    question: str
    machine_reason: str
    human_outcome_counted: ReviewDecisionKind
    n: int
    k: int
    share: float | None
    wilson95: tuple[float, float] | None
    unusable: int
