"""Storing and reading sealed face templates and photos; every read is audited with a purpose.

Each blob is sealed with associated data naming its kind, subject and row, so a ciphertext copied
to another row does not open. `reencrypt` moves every row onto the active key after a rotation.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from custodes.checkins.crypto import ACTIVE_FILE, FaceKeyRing, Sealed
from custodes.checkins.models import FaceEnrolment, FacePhoto
from custodes.checkins.upload import CleanPhoto
from custodes.uow import UnitOfWork

CONTAINER_KEY = "face_keys"


def _key_folder_state(key_dir: Path) -> tuple:
    """What a rotation changes: the active-key marker and the set of key files."""
    marker = key_dir / ACTIVE_FILE
    return (marker.stat().st_mtime_ns if marker.exists() else None,
            tuple(sorted(p.name for p in key_dir.glob("face_*.key"))) if key_dir.is_dir() else ())


def face_keys(container: Any) -> FaceKeyRing:
    """The container's face key ring; reloaded when the key folder changes, so a running server
    seals with a newly rotated key without a restart (a first key is made on a fresh install)."""
    key_dir = container.settings.key_dir
    cached = container.extras.get(CONTAINER_KEY)
    state = _key_folder_state(key_dir)
    if cached is None or cached[0] != state:
        ring = FaceKeyRing.load(key_dir, container.clock.now())
        container.extras[CONTAINER_KEY] = (_key_folder_state(key_dir), ring)
        return ring
    return cached[1]


def _photo_context(photo: FacePhoto) -> str:
    return f"face_photo:{photo.subject_id}:{photo.id}"


def _template_context(enrolment: FaceEnrolment) -> str:
    return f"face_template:{enrolment.subject_id}:{enrolment.id}"


def add_photo(*, uow: UnitOfWork, keys: FaceKeyRing, subject_id: uuid.UUID, role: str, image: CleanPhoto,
              enrolment_id: uuid.UUID | None = None, attempt_id: uuid.UUID | None = None) -> FacePhoto:
    """Seal and store a re-encoded photo (never the raw upload: see `CleanPhoto`)."""
    photo = FacePhoto(id=uuid.uuid4(), subject_id=subject_id, role=role, enrolment_id=enrolment_id,
                      attempt_id=attempt_id, content_type=image.content_type, size_bytes=len(image.data),
                      created_at=uow.clock.now())
    sealed = keys.seal(image.data, _photo_context(photo))
    photo.photo_sealed, photo.key_id = sealed.blob, sealed.key_id
    uow.session.add(photo)
    return photo


def read_photo(*, uow: UnitOfWork, keys: FaceKeyRing, photo: FacePhoto, purpose: str) -> bytes:
    """Open a photo for a person to look at; the read is written to the audit log."""
    if photo.photo_sealed is None or photo.key_id is None:
        raise LookupError("this photo has been deleted")
    uow.record_read("face_photo", photo.id, purpose=purpose,
                    detail={"subject_id": str(photo.subject_id), "role": photo.role})
    return keys.open(Sealed(photo.key_id, photo.photo_sealed), _photo_context(photo))


def seal_template(*, keys: FaceKeyRing, enrolment: FaceEnrolment, template: bytes) -> None:
    sealed = keys.seal(template, _template_context(enrolment))
    enrolment.template_sealed, enrolment.key_id = sealed.blob, sealed.key_id


def read_template(*, uow: UnitOfWork, keys: FaceKeyRing, enrolment: FaceEnrolment, purpose: str) -> bytes:
    if enrolment.template_sealed is None or enrolment.key_id is None:
        raise LookupError("this enrolment's template has been deleted")
    uow.record_read("face_template", enrolment.id, purpose=purpose,
                    detail={"subject_id": str(enrolment.subject_id)})
    return keys.open(Sealed(enrolment.key_id, enrolment.template_sealed), _template_context(enrolment))


def reencrypt(*, uow: UnitOfWork, keys: FaceKeyRing, batch: int = 200) -> dict[str, int]:
    """Re-seal up to `batch` rows of each kind that are not under the active key. Run it until it
    reports zero remaining; then the old key file can be removed."""
    moved = {"photos": 0, "templates": 0}
    photos = uow.session.scalars(select(FacePhoto).where(FacePhoto.key_id.is_not(None),
                                                         FacePhoto.key_id != keys.active).limit(batch)).all()
    for photo in photos:
        uow.record_read("face_photo", photo.id, purpose="re-encryption under the active face key")
        sealed = keys.rewrap(Sealed(photo.key_id, photo.photo_sealed), _photo_context(photo))
        photo.photo_sealed, photo.key_id = sealed.blob, sealed.key_id
        moved["photos"] += 1
    enrolments = uow.session.scalars(select(FaceEnrolment).where(FaceEnrolment.key_id.is_not(None),
                                                                 FaceEnrolment.key_id != keys.active)
                                     .limit(batch)).all()
    for enrolment in enrolments:
        uow.record_read("face_template", enrolment.id, purpose="re-encryption under the active face key")
        sealed = keys.rewrap(Sealed(enrolment.key_id, enrolment.template_sealed), _template_context(enrolment))
        enrolment.template_sealed, enrolment.key_id = sealed.blob, sealed.key_id
        moved["templates"] += 1
    return moved


def remaining_by_key(*, uow: UnitOfWork) -> dict[str, int]:
    """How many sealed rows each key still protects (a key with none left may be retired)."""
    counts: dict[str, int] = {}
    for column in (FacePhoto.key_id, FaceEnrolment.key_id):
        for kid in uow.session.scalars(select(column).where(column.is_not(None))):
            counts[kid] = counts.get(kid, 0) + 1
    return counts
