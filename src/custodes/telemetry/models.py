"""Telemetry tables: raw batches (the evidence), per-device cursors, trail segments, monitor state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from custodes.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class TelemetryBatch(Base):
    """One upload exactly as the device signed it, stored before the device is answered.

    `fixes` holds the accepted fixes packed (see `segment`) until the pipeline has moved them to the
    trail; `processed_at` is set in the same transaction as the trail rows, state and alerts.
    """

    __tablename__ = "telemetry_batches"
    __table_args__ = (
        UniqueConstraint("device_id", "seq"),
        Index("ix_telemetry_batches_pending", "device_id", "seq",
              postgresql_where=text("processed_at IS NULL"), sqlite_where=text("processed_at IS NULL")),
        # pending_devices: the oldest waiting batches first (migration 1400_ingest)
        Index("ix_telemetry_batches_waiting", "id", "device_id",
              postgresql_where=text("processed_at IS NULL AND quarantined_at IS NULL"),
              sqlite_where=text("processed_at IS NULL AND quarantined_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)  # http | mqtt
    encoding: Mapped[str] = mapped_column(String(8), nullable=False)  # json | ndjson
    raw: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False)
    fix_count: Mapped[int] = mapped_column(Integer, nullable=False)
    fixes: Mapped[bytes | None] = mapped_column(LargeBinary)
    statuses: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    rejected: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A batch that fails processing is retried a bounded number of times, then set aside with its
    # error (`quarantined_at`) so that the device's later batches go on; a replay clears it.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceCursor(Base):
    """How far the pipeline has got for one device; locked while a worker processes that device."""

    __tablename__ = "telemetry_cursors"

    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=-1)
    batches: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrailSegment(Base):
    """The fixes of one batch for one subject, sorted by time and packed (about 10 bytes a fix);
    or, once compacted (`telemetry.compaction`), of one device's hour (level 1) or six hours (level 2)."""

    __tablename__ = "trail_segments"
    __table_args__ = (Index("ix_trail_segments_subject_time", "subject_id", "t_start"),
                      Index("ix_trail_segments_unsettled", "device_id", "level", "t_start",
                            postgresql_where=text("level < 2"), sqlite_where=text("level < 2")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    batch_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    t_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    t_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    n: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0, server_default="0")


class MonitorState(Base):
    """The rules engine's memory of one subject (`SubjectState` as JSON), updated with each batch."""

    __tablename__ = "monitor_states"

    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ticked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MonitorCheckpoint(Base):
    """A subject's rule state after every item with time <= `as_of` (and nothing decided later):
    where a late item is re-judged from. About one an hour of data time per subject."""

    __tablename__ = "monitor_checkpoints"

    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)


def pending_batches():
    """Batches still to process: neither processed nor set aside in quarantine."""
    return TelemetryBatch.processed_at.is_(None) & TelemetryBatch.quarantined_at.is_(None)
