"""Consented demographic records, with their API shapes.

They exist only to measure whether the face check works equally well for everyone. No decision
reads them: only `reports/` does (a test holds every other package to that).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, UTCDateTime, new_id
from custodes.subjects import models as _subjects  # noqa: F401  (foreign key target)

Attribute = Literal["ethnicity", "sex", "age_band"]


class DemographicRecord(Base):
    __tablename__ = "demographic_records"
    __audit_target__ = "demographic_record"
    __table_args__ = (UniqueConstraint("subject_id", "attribute"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
                                                  index=True)
    attribute: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(String(64), nullable=False)
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class DemographicCreate(BaseModel):
    attribute: Attribute
    value: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_ -]*$",
                       description="the person's own description, e.g. an ONS ethnic group")
    consent: Literal[True] = Field(description="the person consented to record this, for fairness monitoring only")


class DemographicRead(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    attribute: Attribute
    value: str
    consent_given_at: datetime
    model_config = {"from_attributes": True}
