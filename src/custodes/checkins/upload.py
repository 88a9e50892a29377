"""Uploaded face photos: refused before decoding unless they are safe JPEG/PNG within the caps,
and each refusal rendered as its own problem+json type (`.../problems/upload-too-large`, ...).
What is kept is never the upload itself but its pixels re-encoded (`CleanPhoto`)."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from custodes.biometrics import UploadRejected, decode_image
from custodes.biometrics.quality import QualityReport
from custodes.errors import DomainError

MAX_FRAMES = 8


class PhotoRefused(DomainError):
    """One photo could not be used; `code` says why and is part of the problem type."""

    status, title = 422, "Photo refused"

    def __init__(self, field: str, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "code": code, "message": message}])
        self.kind = f"upload-{code.replace('_', '-')}"
        self.status = status
        self.code = code


class FaceNotUsable(PhotoRefused):
    """A decodable photo that failed the quality gate (a failure to acquire, not a failed match)."""

    title = "Face not usable"

    def __init__(self, field: str, report: QualityReport) -> None:
        super().__init__(field, report.reason or "unusable", report.message or "the face could not be used")
        self.kind = f"face-{(report.reason or 'unusable').replace('_', '-')}"
        self.report = report


def decode_upload(data: bytes, field: str) -> np.ndarray:
    """Decode one upload with the faces module's safe decoder (magic bytes, byte and pixel caps
    checked before any pixel is decoded); refusals name the field and carry the device message."""
    try:
        return decode_image(data)
    except UploadRejected as exc:
        raise PhotoRefused(field, exc.code, exc.message, status=413 if exc.code == "too_large" else 422) from None


# The face models (dlib networks, the liveness model) are not safe to run from several threads at
# once: concurrent check-ins crashed the process (heap corruption) once the work left the database
# lock that used to serialise it. One face computation at a time per process; never take a
# database lock while holding this one (a transaction holder may be waiting for it).
FACE_WORK = threading.Lock()

STORED_QUALITY = 92


@dataclass(frozen=True)
class CleanPhoto:
    """A photo as stored and served: the decoded (upright) pixels encoded afresh as JPEG. Nothing
    else of the upload survives: no EXIF (GPS, device, time), comments, APPn segments, PNG text
    chunks or bytes after the image, so a file carrying a script or a location is not kept."""

    data: bytes
    content_type: str = "image/jpeg"

    @classmethod
    def from_pixels(cls, rgb: np.ndarray) -> CleanPhoto:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, format="JPEG",
                                                                               quality=STORED_QUALITY)
        return cls(buf.getvalue())
