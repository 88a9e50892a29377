"""Face enrolment use cases: enrol (or re-enrol) from reference photos, list, delete, read a photo.

Every change is audited by the unit of work (the models declare audit targets); every read of a
face image goes through `face_store`, which audits it with its purpose.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from custodes.biometrics import FaceNotAcquired
from custodes.checkins import face_store
from custodes.checkins.crypto import FaceKeyRing
from custodes.checkins.models import FaceEnrolment, FacePhoto
from custodes.checkins.upload import FACE_WORK, CleanPhoto, FaceNotUsable, decode_upload
from custodes.errors import Conflict, Invalid, NotFound
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

# At least three reference photos: on the LFW development pairs a template of three photos missed
# the person about four times less often than one photo at the same false-match rate (see
# docs/model-card.md). There is no exception: a caseworker who has the person in front of them
# can always take three; an enrolment from one old photo is exactly the weak template to avoid.
MIN_REFERENCE_PHOTOS = 3
MAX_REFERENCE_PHOTOS = 5


def _subject(uow: UnitOfWork, subject_id: uuid.UUID, *, write: bool) -> Subject:
    return subjects.load(uow=uow, subject_id=subject_id, for_change=write)


def _actor_id(uow: UnitOfWork) -> uuid.UUID | None:
    return uuid.UUID(uow.actor.id) if uow.actor.kind == "user" and uow.actor.id else None


def active_enrolment(*, uow: UnitOfWork, subject_id: uuid.UUID) -> FaceEnrolment | None:
    return uow.session.scalars(select(FaceEnrolment).where(FaceEnrolment.subject_id == subject_id,
                                                           FaceEnrolment.status == "active")
                               .order_by(FaceEnrolment.created_at.desc())).first()


def enrol(*, uow: UnitOfWork, keys: FaceKeyRing, engine, subject_id: uuid.UUID, photos: list[bytes]) -> FaceEnrolment:
    """Make a template from 3 to 5 reference photos; an earlier enrolment is superseded.

    The subject's ownership is checked first (another agency's case is 404 before any photo is
    looked at), that transaction is ended so no lock (on SQLite: the write lock) is held through
    the face work, and the subject is checked again before anything is written.
    """
    _subject(uow, subject_id, write=True)
    uow.session.rollback()  # nothing written yet: this only ends the transaction
    if len(photos) < MIN_REFERENCE_PHOTOS:
        raise Invalid.field("photos", f"send at least {MIN_REFERENCE_PHOTOS} reference photos (got {len(photos)}): "
                                      "frontal, each taken separately, so the template holds the face in more than one "
                                      "light and expression")
    if len(photos) > MAX_REFERENCE_PHOTOS:
        raise Invalid.field("photos", f"at most {MAX_REFERENCE_PHOTOS} reference photos")
    acquired, cleaned = [], []
    for i, data in enumerate(photos):
        rgb = decode_upload(data, f"photos[{i}]")
        cleaned.append(CleanPhoto.from_pixels(rgb))
        try:
            with FACE_WORK:
                acquired.append(engine.acquire(rgb, for_template=True))  # embedded once, as a reference
        except FaceNotAcquired as exc:
            raise FaceNotUsable(f"photos[{i}]", exc.report) from None
    with FACE_WORK:
        template = engine.enrol(acquired)
    subject = _subject(uow, subject_id, write=True)
    now = uow.clock.now()
    for previous in uow.session.scalars(select(FaceEnrolment).where(FaceEnrolment.subject_id == subject.id,
                                                                    FaceEnrolment.status == "active")):
        previous.status, previous.ended_at, previous.ended_by = "superseded", now, _actor_id(uow)
        previous.end_reason = "re-enrolled"
    enrolment = FaceEnrolment(id=uuid.uuid4(), subject_id=subject.id, status="active",
                              engine_version=engine.version, image_count=len(acquired),
                              quality=[a.quality.as_dict() for a in acquired], created_at=now,
                              created_by=_actor_id(uow))
    face_store.seal_template(keys=keys, enrolment=enrolment, template=template.to_bytes())
    uow.session.add(enrolment)
    uow.session.flush()  # the photos refer to the enrolment row
    for image in cleaned:
        face_store.add_photo(uow=uow, keys=keys, subject_id=subject.id, role="reference", image=image,
                             enrolment_id=enrolment.id)
    return enrolment


def list_enrolments(*, uow: UnitOfWork, subject_id: uuid.UUID) -> list[FaceEnrolment]:
    subject = _subject(uow, subject_id, write=False)
    return list(uow.session.scalars(select(FaceEnrolment).where(FaceEnrolment.subject_id == subject.id)
                                    .order_by(FaceEnrolment.created_at.desc())))


def delete_enrolment(*, uow: UnitOfWork, subject_id: uuid.UUID, enrolment_id: uuid.UUID, reason: str) -> FaceEnrolment:
    """Wipe the template and reference photos; the record (who, when, why) stays for the audit."""
    subject = _subject(uow, subject_id, write=True)
    enrolment = uow.session.scalars(select(FaceEnrolment).where(FaceEnrolment.id == enrolment_id,
                                                                FaceEnrolment.subject_id == subject.id)).first()
    if enrolment is None:
        raise NotFound(f"enrolment {enrolment_id} not found")
    if enrolment.status == "deleted":
        raise Conflict("this enrolment is already deleted")
    now = uow.clock.now()
    enrolment.status, enrolment.template_sealed, enrolment.key_id = "deleted", None, None
    enrolment.ended_at, enrolment.ended_by, enrolment.end_reason = now, _actor_id(uow), reason
    for photo in uow.session.scalars(select(FacePhoto).where(FacePhoto.enrolment_id == enrolment.id)):
        photo.photo_sealed, photo.key_id, photo.deleted_at = None, None, now
    return enrolment


def reference_photo(*, uow: UnitOfWork, keys: FaceKeyRing, subject_id: uuid.UUID, photo_id: uuid.UUID,
                    purpose: str) -> tuple[bytes, str]:
    subject = _subject(uow, subject_id, write=False)
    photo = uow.session.scalars(select(FacePhoto).where(FacePhoto.id == photo_id,
                                                        FacePhoto.subject_id == subject.id)).first()
    if photo is None or photo.photo_sealed is None:
        raise NotFound(f"face photo {photo_id} not found")
    return face_store.read_photo(uow=uow, keys=keys, photo=photo, purpose=purpose), photo.content_type
