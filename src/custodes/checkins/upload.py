"""Uploaded face photos: refused before decoding unless they are safe JPEG/PNG within the caps,
and each refusal rendered as its own problem+json type (`.../problems/upload-too-large`, ...)."""

from __future__ import annotations

import numpy as np

from custodes.biometrics import UploadRejected, decode_image
from custodes.biometrics.quality import QualityReport
from custodes.errors import DomainError

MAX_FRAMES = 8
CONTENT_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png"}


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


def content_type(data: bytes) -> str:
    for magic, kind in CONTENT_TYPES.items():
        if data.startswith(magic):
            return kind
    raise ValueError("only decoded (JPEG/PNG) uploads are stored")
