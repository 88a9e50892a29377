"""The data classes, their clocks, and the six-year ceiling. Pure: no database."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from custodes.errors import Invalid

SIX_YEARS = timedelta(days=6 * 365)  # the ceiling on every grace period
MAX_GRACE_DAYS = 6 * 365


class DataClass(enum.StrEnum):
    TELEMETRY_BATCHES = "telemetry_batches"
    TRAIL = "trail"
    CHECKIN_PHOTOS = "checkin_photos"
    FACE_TEMPLATES = "face_templates"
    ALERTS = "alerts"
    REVIEWS = "reviews"
    SUBJECT_RECORD = "subject_record"
    AUDIT_LOG = "audit_log"


# The order a subject's data goes in: the subject record last, since deleting it cascades to the rest.
SUBJECT_CLASSES = (DataClass.FACE_TEMPLATES, DataClass.CHECKIN_PHOTOS, DataClass.TELEMETRY_BATCHES,
                   DataClass.TRAIL, DataClass.ALERTS, DataClass.REVIEWS, DataClass.SUBJECT_RECORD)


@dataclass(frozen=True)
class RetentionPolicy:
    grace_days: dict[DataClass, int]

    @classmethod
    def from_settings(cls, grace_days: dict[str, int]) -> RetentionPolicy:
        """Validate the configured grace of every class; a bad setting is one readable error."""
        out: dict[DataClass, int] = {}
        for dc in DataClass:
            if dc.value not in grace_days:
                raise Invalid.field(f"retention.{dc}", "no retention period is configured")
            days = int(grace_days[dc.value])
            if not 0 <= days <= MAX_GRACE_DAYS:
                raise Invalid.field(f"retention.{dc}", f"{days} days: must be 0 to {MAX_GRACE_DAYS} (six years)")
            out[dc] = days
        longest = max(out[c] for c in SUBJECT_CLASSES if c is not DataClass.SUBJECT_RECORD)
        if out[DataClass.SUBJECT_RECORD] < longest:
            raise Invalid.field("retention.subject_record",
                                f"must be at least the longest other class ({longest} days): deleting the record "
                                "deletes everything under it")
        return cls(out)

    def grace(self, data_class: DataClass) -> timedelta:
        return timedelta(days=self.grace_days[data_class])

    def due_at(self, data_class: DataClass, basis_ended_at: datetime) -> datetime:
        """When a subject's data of this class is due: the end of the legal basis plus the grace,
        never more than six years after that end."""
        return basis_ended_at + min(self.grace(data_class), SIX_YEARS)

    def describe(self, data_class: DataClass) -> str:
        if data_class is DataClass.AUDIT_LOG:
            return f"entry age > {self.grace_days[data_class]} d"
        return f"legal basis end + {self.grace_days[data_class]} d"
