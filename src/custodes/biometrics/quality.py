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
    # Mean grey of the inner face. LFW spans 51-189; NUAA's live webcam frames 45-221, and those
    # still match, so the bounds sit outside both: only faces too dark or washed out to use fail.
    min_brightness: float = 40.0
    max_brightness: float = 232.0
    min_contrast: float = 12.0
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
    pose = main.pose
    height, width = image_shape[:2]
    b, slack = main.box, 0.15 * main.box.width
    figures: dict[str, float] = {
        "inter_eye_px": main.landmarks.inter_eye_distance,
        "face_width_px": float(main.box.width),
        # Width of the largest other face relative to the main one (0 when alone).
        "other_face_ratio": max((f.box.width / main.box.width for f in faces[1:]), default=0.0),
        "in_frame": float(b.left >= -slack and b.top >= -slack and b.right <= width + slack and b.bottom <= height + slack),
        "yaw": pose.yaw,
        "pitch": pose.pitch,
        "roll": pose.roll,
    }
    if chip is not None:
        figures.update(chip_figures(chip))
    count = 1 + sum(f.box.width >= policy.other_face_ratio * main.box.width for f in faces[1:])
    return QualityReport(judge(figures, policy), figures, count)


def judge(figures: dict[str, float], policy: QualityPolicy = DEFAULT_POLICY) -> str | None:
    """The first failed check (in the order a person should fix them), or None. Pure over figures,
    so an evaluation can re-grade cached figures under another policy."""
    if not figures:
        return "no_face"
    if figures.get("other_face_ratio", 0.0) >= policy.other_face_ratio and figures.get("other_face_ratio", 0.0) > 0:
        return "multiple_faces"
    if figures["inter_eye_px"] < policy.min_inter_eye_px:
        return "too_small"
    if not figures.get("in_frame", 1.0):
        return "face_cut_off"
    if (
        abs(figures["yaw"]) > policy.max_abs_yaw
        or abs(figures["roll"]) > policy.max_abs_roll
        or not policy.min_pitch <= figures["pitch"] <= policy.max_pitch
    ):
        return "not_frontal"
    if "brightness" in figures:
        if figures["brightness"] < policy.min_brightness:
            return "too_dark"
        if figures["brightness"] > policy.max_brightness:
            return "too_bright"
        if figures["contrast"] < policy.min_contrast:
            return "low_contrast"
        if figures["sharpness"] < policy.min_sharpness:
            return "blurred"
    return None
