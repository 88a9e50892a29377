"""Every challenge frame must show the enrolled person, not only the check-in photo.

The challenge judges a movement between frames; without this check any two photos whose
landmarks differ the right way pass it (two unrelated press photos passed "look up" in an
end-to-end run). Each frame after the photo is embedded where the liveness check found its face
(no second detection, no quality gate: a turned head fails the gate's pose rule by design) and
compared 1:1 with the template. The bar is the calibration's FMR 1e-2 point, looser than the
photo's: the photo still has to match at the check-in's own target, and a frame only has to be
the same person (measured with `custodes eval challenge-frames`, see docs/liveness.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from custodes.biometrics.faces import DetectedFace

FRAME_TARGET_FMR = 1e-2


@dataclass(frozen=True)
class FrameMatch:
    ok: bool
    reasons: tuple[str, ...]
    scores: tuple[float | None, ...]  # per challenge frame (frame 1 on); None where no face was found
    threshold: float
    target_fmr: float

    def as_dict(self) -> dict:
        return {"ok": self.ok, "reasons": list(self.reasons), "target_fmr": self.target_fmr,
                "threshold": round(self.threshold, 4),
                "scores": [None if s is None else round(s, 4) for s in self.scores]}


def match_frames(engine, template, frames: Sequence[np.ndarray], faces: Sequence[DetectedFace | None],
                 target_fmr: float = FRAME_TARGET_FMR) -> FrameMatch:
    """Compare frames[1:] (the challenge frames) with the template; frames[0] is the photo,
    matched by the caller at the check-in's own target."""
    from custodes.biometrics.engine import Acquisition
    from custodes.biometrics.quality import QualityReport

    threshold = engine.calibration.threshold(target_fmr)
    scores: list[float | None] = []
    reasons: list[str] = []
    for i, (rgb, face) in enumerate(zip(frames[1:], faces[1:], strict=True), start=1):
        if face is None:
            scores.append(None)  # the challenge already says the face was lost
            continue
        probe = Acquisition(face=face, quality=QualityReport(None), embeddings=engine.embed(rgb, face))
        result = engine.compare(template, probe, target_fmr=target_fmr)
        scores.append(result.score)
        if not result.matched:
            reasons.append(f"challenge frame {i} does not show the enrolled person "
                           f"(score {result.score:.2f} < {threshold:.2f})")
    return FrameMatch(not reasons, tuple(reasons), tuple(scores), threshold, target_fmr)
