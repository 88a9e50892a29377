"""Counting and deleting one data class of one subject, a small batch at a time.

Each `delete_batch` touches at most `limit` rows chosen by key and returns how many records it
removed (0 when nothing is left), so a caller can keep each transaction short: a subject's whole
six-year trail goes as many quick deletes by primary key, never one long statement holding locks
that ingestion would queue behind. Biometric rows are wiped (sealed bytes gone, the record kept
until the subject record goes) as enrolment deletion already does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, update
from sqlalchemy.orm import Session

from custodes.alerts.models import Alert
from custodes.checkins.models import FaceEnrolment, FacePhoto
from custodes.devices.models import Assignment
from custodes.retention.policy import DataClass
from custodes.review.models import ReviewItem
from custodes.subjects.models import Subject
from custodes.telemetry.models import MonitorState, TelemetryBatch, TrailSegment


def _batches_of(session: Session, subject_id: uuid.UUID) -> ColumnElement[bool]:
    """Raw uploads belong to whoever wore the device when they were received."""
    conds = []
    for a in session.scalars(select(Assignment).where(Assignment.subject_id == subject_id)):
        c = and_(TelemetryBatch.device_id == a.device_id, TelemetryBatch.received_at >= a.starts_at)
        conds.append(and_(c, TelemetryBatch.received_at < a.ends_at) if a.ends_at else c)
    return or_(*conds) if conds else false()


def _probe(subject_id):
    return and_(FacePhoto.subject_id == subject_id, FacePhoto.role == "probe", FacePhoto.photo_sealed.is_not(None))


def _reference(subject_id):
    return and_(FacePhoto.subject_id == subject_id, FacePhoto.role == "reference",
                FacePhoto.photo_sealed.is_not(None))


def _template(subject_id):
    return and_(FaceEnrolment.subject_id == subject_id, FaceEnrolment.template_sealed.is_not(None))


def _trail(subject_id, before: datetime | None):
    where = TrailSegment.subject_id == subject_id
    # With `before`, only whole segments older than it: the six-year ceiling on a live order.
    return and_(where, TrailSegment.t_end < before) if before is not None else where


def _batches(session: Session, subject_id, before: datetime | None):
    where = _batches_of(session, subject_id)
    return and_(where, TelemetryBatch.received_at < before) if before is not None else where


def count(session: Session, data_class: DataClass, subject_id: uuid.UUID, before: datetime | None = None) -> int:
    s = session
    match data_class:
        case DataClass.TRAIL:
            q = select(func.coalesce(func.sum(TrailSegment.n), 0)).where(_trail(subject_id, before))
        case DataClass.TELEMETRY_BATCHES:
            q = select(func.count()).select_from(TelemetryBatch).where(_batches(s, subject_id, before))
        case DataClass.CHECKIN_PHOTOS:
            q = select(func.count()).select_from(FacePhoto).where(_probe(subject_id))
        case DataClass.FACE_TEMPLATES:
            return int(s.scalar(select(func.count()).select_from(FaceEnrolment).where(_template(subject_id))) or 0) \
                + int(s.scalar(select(func.count()).select_from(FacePhoto).where(_reference(subject_id))) or 0)
        case DataClass.ALERTS:
            q = select(func.count()).select_from(Alert).where(Alert.subject_id == subject_id)
        case DataClass.REVIEWS:
            q = select(func.count()).select_from(ReviewItem).where(ReviewItem.subject_id == subject_id)
        case DataClass.SUBJECT_RECORD:
            q = select(func.count()).select_from(Subject).where(Subject.id == subject_id)
        case _:
            raise ValueError(f"{data_class} is not kept per subject")
    return int(s.scalar(q) or 0)


def _delete_ids(session: Session, model, where, limit: int, weight=None) -> int:
    ids = select(model.id).where(where).limit(limit).scalar_subquery()
    weight = model.id if weight is None else weight
    removed = session.execute(delete(model).where(model.id.in_(ids)).returning(weight)).scalars().all()
    return int(sum(removed)) if weight is not model.id else len(removed)


def _delete_trail(session: Session, where, limit: int) -> int:
    # Zero removed does not mean none left: the chunk may have waited on segments that trail compaction
    # was merging (telemetry.compaction) and found them gone, while their merged segment is new to it.
    # Each statement sees what is committed when it starts, so the next one finds the merged segment.
    for _ in range(5):
        n = _delete_ids(session, TrailSegment, where, limit, weight=TrailSegment.n)
        if n or session.scalar(select(TrailSegment.id).where(where).limit(1)) is None:
            return n
    raise RuntimeError("trail segments keep changing under the deletion; the run is retried")


def _wipe_photos(session: Session, where, limit: int, now: datetime) -> int:
    ids = select(FacePhoto.id).where(where).limit(limit).scalar_subquery()
    return len(session.execute(update(FacePhoto).where(FacePhoto.id.in_(ids))
                               .values(photo_sealed=None, key_id=None, deleted_at=now)
                               .returning(FacePhoto.id)).scalars().all())


def _wipe_templates(session: Session, subject_id, limit: int, now: datetime) -> int:
    ids = select(FaceEnrolment.id).where(_template(subject_id)).limit(limit).scalar_subquery()
    done = len(session.execute(update(FaceEnrolment).where(FaceEnrolment.id.in_(ids))
                               .values(template_sealed=None, key_id=None, status="deleted",
                                       ended_at=func.coalesce(FaceEnrolment.ended_at, now),
                                       end_reason=func.coalesce(FaceEnrolment.end_reason, "retention"))
                               .returning(FaceEnrolment.id)).scalars().all())
    return done + _wipe_photos(session, _reference(subject_id), max(0, limit - done), now) if done < limit else done


def delete_batch(session: Session, data_class: DataClass, subject_id: uuid.UUID, *, limit: int,
                 now: datetime, before: datetime | None = None) -> int:
    """Remove up to `limit` rows of this class for this subject; the number of records removed."""
    deleters: dict[DataClass, Callable[[], int]] = {
        DataClass.TRAIL: lambda: _delete_trail(session, _trail(subject_id, before), limit),
        DataClass.TELEMETRY_BATCHES: lambda: _delete_ids(session, TelemetryBatch,
                                                         _batches(session, subject_id, before), limit),
        DataClass.CHECKIN_PHOTOS: lambda: _wipe_photos(session, _probe(subject_id), limit, now),
        DataClass.FACE_TEMPLATES: lambda: _wipe_templates(session, subject_id, limit, now),
        DataClass.ALERTS: lambda: _delete_ids(session, Alert, Alert.subject_id == subject_id, limit),
        DataClass.REVIEWS: lambda: _delete_ids(session, ReviewItem, ReviewItem.subject_id == subject_id, limit),
        DataClass.SUBJECT_RECORD: lambda: _delete_subject(session, subject_id),
    }
    return deleters[data_class]()


def _delete_subject(session: Session, subject_id: uuid.UUID) -> int:
    """The case file and everything that cascades from it (orders, conditions, assignments, prompts,
    attempts, photos, enrolments, shares, grants); the rules engine's state has no key to cascade on."""
    session.execute(delete(MonitorState).where(MonitorState.subject_id == subject_id))
    return session.execute(delete(Subject).where(Subject.id == subject_id)).rowcount or 0
