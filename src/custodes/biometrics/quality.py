"""The quality gate run before a template is made or a probe is matched.

A failure is a failure to acquire (the person is asked to try again), never a failed match.
Sharpness and exposure are measured on the aligned face chip, so they do not depend on the
camera's resolution or on the background.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from custodes.biometrics.faces import DetectedFace


@dataclass(frozen=True)
class QualityPolicy:
    min_inter_eye_px: float = 28.0
    # Laplacian variance of the 150 px grey chip divided by its grey variance (so a dim but sharp
    # face is not called blurred). LFW's 1st percentile is 0.012; a 2 px blur of a 250 px LFW
    # photo gives about 0.009.
    min_sharpness: float = 0.011
    min_brightness: float = 50.0
    max_brightness: float = 215.0
    min_contrast: float = 14.0
    max_abs_yaw: float = 0.32
    max_abs_roll: float = 25.0
    min_pitch: float = 0.35
    max_pitch: float = 1.25
    # A second face at least this fraction of the main face's width counts as another person;
    # smaller ones are HOG false alarms or people far behind (NUAA live frames show both).
    other_face_ratio: float = 0.5


DEFAULT_POLICY = QualityPolicy()

# Reason code -> what the device shows.
MESSAGES = {
    "no_face": "No face found: hold the watch in front of your face and look at it",
    "multiple_faces": "Only one face, please: make sure you are alone in the photo",
    "too_small": "Move closer to the camera",
    "face_cut_off": "Keep your whole face inside the frame",
    "not_frontal": "Face the camera and keep your head straight",
    "too_dark": "More light, please: move somewhere brighter",
    "too_bright": "Too bright: move out of direct light",
    "low_contrast": "More light, please: the face is washed out",
    "blurred": "Hold still: the photo is blurred",
}


@dataclass(frozen=True)
class QualityReport:
    """Outcome of the gate; `reason` is None when the image passed."""

    reason: str | None
    figures: dict[str, float] = field(default_factory=dict)
    faces: int = 0

    @property
    def passed(self) -> bool:
        return self.reason is None

    @property
    def message(self) -> str | None:
        return MESSAGES.get(self.reason) if self.reason else None

    def as_dict(self) -> dict:
        return {"passed": self.passed, "reason": self.reason, "message": self.message, "faces": self.faces,
                "figures": {k: round(v, 3) for k, v in self.figures.items()}}


@dataclass(frozen=True)
class FaceNotAcquired(Exception):
    """The quality gate refused the image; counts as a failure to acquire."""

    report: QualityReport

    @property
    def reason(self) -> str:
        return self.report.reason or "unknown"

    @property
    def message(self) -> str:
        return self.report.message or "Try again"

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def chip_figures(chip: np.ndarray) -> dict[str, float]:
    """Sharpness, brightness and contrast of the central face region of an aligned chip."""
    grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    # The inner part of the chip is skin, eyes and mouth: no hair or background to fool the figures.
    inner = grey[h // 5 : h - h // 8, w // 5 : w - w // 5]
    contrast = float(inner.std())
    laplacian = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    return {
        "sharpness": laplacian / max(contrast, 1.0) ** 2,
        "laplacian_var": laplacian,
        "brightness": float(inner.mean()),
        "contrast": contrast,
    }


def assess(
    image_shape: tuple[int, ...],
    faces: list[DetectedFace],
    chip: np.ndarray | None,
    policy: QualityPolicy = DEFAULT_POLICY,
) -> QualityReport:
    """Grade one image from its detected faces (largest first) and the chip of the largest face."""
    if not faces:
        return QualityReport("no_face", {}, 0)
    main = faces[0]
    others = [f for f in faces[1:] if f.box.width >= policy.other_face_ratio * main.box.width]
    pose = main.pose
    figures: dict[str, float] = {
        "inter_eye_px": main.landmarks.inter_eye_distance,
        "face_width_px": float(main.box.width),
        "yaw": pose.yaw,
        "pitch": pose.pitch,
        "roll": pose.roll,
    }
    if chip is not None:
        figures.update(chip_figures(chip))
    count = 1 + len(others)
    if others:
        return QualityReport("multiple_faces", figures, count)
    if figures["inter_eye_px"] < policy.min_inter_eye_px:
        return QualityReport("too_small", figures, count)
    height, width = image_shape[:2]
    b, slack = main.box, 0.15 * main.box.width
    if b.left < -slack or b.top < -slack or b.right > width + slack or b.bottom > height + slack:
        return QualityReport("face_cut_off", figures, count)
    if (
        abs(pose.yaw) > policy.max_abs_yaw
        or abs(pose.roll) > policy.max_abs_roll
        or not policy.min_pitch <= pose.pitch <= policy.max_pitch
    ):
        return QualityReport("not_frontal", figures, count)
    if chip is not None:
        if figures["brightness"] < policy.min_brightness:
            return QualityReport("too_dark", figures, count)
        if figures["brightness"] > policy.max_brightness:
            return QualityReport("too_bright", figures, count)
        if figures["contrast"] < policy.min_contrast:
            return QualityReport("low_contrast", figures, count)
        if figures["sharpness"] < policy.min_sharpness:
            return QualityReport("blurred", figures, count)
    return QualityReport(None, figures, count)
