"""Protected people, the one position kept per person, and proximity conditions on orders.

The protected person's phone is a device registered for them. Its fixes never reach the trail:
the pipeline diverts them (`service.divert`) into `ProtectedPosition`, one row per person,
overwritten by each newer fix. Writes are audited by field name only (the unit of work's rule),
and every read by the rules is audited with a purpose (`service.context`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Float, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db.base import Base, UTCDateTime, new_id


class ProtectedPerson(Base):
    __tablename__ = "protected_people"
    __audit_target__ = "protected_person"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False, index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), nullable=False, unique=True)
    # Consent is the basis: recorded when given, by whom, and how; withdrawing it stops everything.
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    consent_recorded_by: Mapped[str] = mapped_column(String(128), nullable=False)
    consent_note: Mapped[str] = mapped_column(Text, nullable=False)
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ProtectedPosition(Base):
    """The latest position only; a newer fix overwrites it, withdrawing consent deletes it."""

    __tablename__ = "protected_positions"
    __audit_target__ = "protected_position"

    protected_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protected_people.id", ondelete="CASCADE"),
                                                    primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    accuracy_m: Mapped[float] = mapped_column(Float, nullable=False)


class ProximityCondition(Base):
    """On the monitored person's order: stay `radius_m` away from this protected person."""

    __tablename__ = "proximity_conditions"
    __audit_target__ = "proximity_condition"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    protected_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protected_people.id", ondelete="CASCADE"),
                                                    nullable=False, index=True)
    radius_m: Mapped[float] = mapped_column(Float, nullable=False)
    max_skew_s: Mapped[float] = mapped_column(Float, nullable=False, default=180.0)
    min_dwell_s: Mapped[float] = mapped_column(Float, nullable=False, default=60.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


# -- the API's shapes: no shape carries a protected person's position -----------------------------

class ProtectedPersonCreate(BaseModel):
    device_id: uuid.UUID = Field(description="the protected person's own phone, registered as a device and worn by nobody")
    consent_given_at: AwareDatetime = Field(description="when the protected person gave their consent")
    consent_note: str = Field(min_length=1, max_length=2000, description="how consent was given and where it is kept")


class ConsentWithdrawal(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="how the withdrawal was received")


class ProtectedPersonRead(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    device_id: uuid.UUID
    consent_given_at: datetime
    consent_recorded_by: str
    consent_note: str
    consent_withdrawn_at: datetime | None
    created_at: datetime
    model_config = {"from_attributes": True}


class ProximityConditionCreate(BaseModel):
    protected_id: uuid.UUID
    radius_m: float = Field(ge=50, le=20_000, allow_inf_nan=False,
                            description="the moving exclusion zone around the protected person")
    max_skew_s: float = Field(default=180.0, ge=10, le=900, allow_inf_nan=False,
                              description="a fix is compared only with a protected position this close in time")
    min_dwell_s: float = Field(default=60.0, ge=0, le=3600, allow_inf_nan=False,
                               description="time inside before an approach counts, as for fixed zones")


class ProximityConditionRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    protected_id: uuid.UUID
    radius_m: float
    max_skew_s: float
    min_dwell_s: float
    created_at: datetime
    model_config = {"from_attributes": True}
