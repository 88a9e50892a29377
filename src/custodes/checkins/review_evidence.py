"""The check-ins side of review's `CaseEvidence` port: decision records and faces of a queued
check-in, read from check-in storage and opened with the face keys (each photo read audited)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from custodes.checkins import face_store
from custodes.checkins.models import CheckInAttempt, CheckInPrompt, FaceEnrolment, FacePhoto
from custodes.uow import UnitOfWork


class CheckInEvidence:
    def __init__(self, container: Any) -> None:
        self._container = container  # face keys are looked up per read: rotation needs no restart

    def decision_record(self, uow: UnitOfWork, prompt_id: uuid.UUID) -> dict[str, Any] | None:
        prompt = uow.session.get(CheckInPrompt, prompt_id)
        return prompt.decision if prompt else None

    def photo_ids(self, uow: UnitOfWork, *, subject_id: uuid.UUID,
                  attempt_id: uuid.UUID | None) -> tuple[list[uuid.UUID], uuid.UUID | None]:
        attempt = uow.session.get(CheckInAttempt, attempt_id) if attempt_id else None
        enrolment_id = attempt.enrolment_id if attempt else None
        if enrolment_id is None:  # no template at the time: show the current reference, if any
            enrolment_id = uow.session.scalars(select(FaceEnrolment.id).where(
                FaceEnrolment.subject_id == subject_id, FaceEnrolment.status == "active")).first()
        references = list(uow.session.scalars(
            select(FacePhoto.id).where(FacePhoto.enrolment_id == enrolment_id, FacePhoto.photo_sealed.is_not(None))
            .order_by(FacePhoto.created_at, FacePhoto.id))) if enrolment_id else []
        return references, attempt.probe_photo_id if attempt else None

    def open_photo(self, uow: UnitOfWork, photo_id: uuid.UUID, purpose: str) -> tuple[bytes, str] | None:
        photo = uow.session.get(FacePhoto, photo_id)
        if photo is None or photo.photo_sealed is None:
            return None
        keys = face_store.face_keys(self._container)
        return face_store.read_photo(uow=uow, keys=keys, photo=photo, purpose=purpose), photo.content_type
