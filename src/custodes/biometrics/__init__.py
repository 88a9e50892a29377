"""Face biometrics: safe image decoding, the quality gate, the face engine and its calibration.
Liveness (presentation-attack detection) lives in `biometrics.liveness`; evaluation and benchmarks here too.

Stable interface for callers (check-ins, liveness). Importing this package is cheap; the models
(HOG + dlib landmarks, FaceRes, SFace + YuNet, the cohort) load on the first `get_engine()` call,
once per process.

    from custodes.biometrics import (
        decode_image, UploadRejected,            # bytes -> RGB uint8 (H, W, 3); JPEG/PNG only, caps
        get_engine, FaceNotAcquired, TemplateMismatch, Template, Comparison,
    )
    engine = get_engine()
    rgb = decode_image(upload_bytes)           # raises UploadRejected(code, message)
    acq = engine.acquire(rgb)                  # raises FaceNotAcquired (.reason, .message, .report)
    template = engine.enrol([rgb1, rgb2, rgb3])  # one or more photos (or Acquisitions); each must pass
                                               # the gate; 3 photos: FNMR 0.8 % vs 3.0 % at FMR 1e-4
                                               # on LFW dev test (see docs/model-card.md)
    template.cohort_norm                       # computed once here: the template's cohort statistics
    blob = template.to_bytes()                 # JSON bytes; encrypt before storing
    result = engine.compare(Template.from_bytes(blob), acq)          # or a list of Acquisitions
    result.score, result.threshold, result.target_fmr, result.matched, result.engine_version
    result.as_dict()                           # JSON-ready, for the decision record
    acq.quality.as_dict()                      # passed, reason, message, figures (sharpness, ...)

Upload rejection codes: empty, too_large, not_an_image, unsupported_format, too_many_pixels,
truncated, corrupt. Quality reasons (FaceNotAcquired.reason; `.message` is device-showable):
no_face, multiple_faces, too_small, face_cut_off, not_frontal, too_dark, too_bright,
low_contrast, blurred. These are failures to acquire, never failed matches.

Helpers for liveness: `engine.detect(rgb, fast=False)` -> list[DetectedFace] largest first
(fast=True: half-size search first, ~8 ms instead of ~30 ms at 640x480, for challenge frames;
it can miss a smaller second face, so not for the matched photo), each with `.box`
(FaceBox left/top/right/bottom), `.landmarks` (dlib 5 points; `.eye_left`, `.eye_right`, `.nose`,
`.inter_eye_distance`) and `.pose` (HeadPose yaw/pitch/roll proxies, see `faces.HeadPose`:
yaw > 0 means the subject turned to their own left in an unmirrored camera);
`engine.chip(rgb, face, size=150, padding=0.25)` -> aligned face chip (RGB uint8).
`engine.version` is the model + calibration version to store with every decision.
Target FMR defaults to the calibration's (1e-3); `CUSTODES_FACE_TARGET_FMR=1e-4` or
`compare(..., target_fmr=1e-4)` selects another calibrated point.
"""

from custodes.biometrics.faces import DetectedFace, FaceBox, HeadPose, Landmarks
from custodes.biometrics.image_input import UploadRejected, decode_image
from custodes.biometrics.quality import MESSAGES as QUALITY_MESSAGES
from custodes.biometrics.quality import FaceNotAcquired, QualityReport


def get_engine():
    """The process-wide FaceEngine (lazy: dlib and the models load on first call)."""
    from custodes.biometrics.engine import get_engine as _get

    return _get()


def __getattr__(name: str):
    # Engine types without importing dlib at package import time.
    if name in {"FaceEngine", "Template", "Comparison", "Acquisition", "TemplateMismatch"}:
        from custodes.biometrics import engine

        return getattr(engine, name)
    raise AttributeError(name)


__all__ = [
    "Acquisition", "Comparison", "DetectedFace", "FaceBox", "FaceEngine", "FaceNotAcquired", "HeadPose",
    "Landmarks", "QUALITY_MESSAGES", "QualityReport", "Template", "TemplateMismatch", "UploadRejected",
    "decode_image", "get_engine",
]
