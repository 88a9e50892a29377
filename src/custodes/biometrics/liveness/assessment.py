"""The combined liveness decision for one check-in: the challenge and the passive texture check.

Both must pass. A failure is never an adverse outcome by itself: the check-in goes to a human,
who sees the reasons and figures recorded here together with the model version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from custodes.biometrics.faces import DetectedFace
from custodes.biometrics.liveness.challenge import (
    DEFAULT_RULES,
    Challenge,
    ChallengeKind,
    ChallengeRules,
    ChallengeVerdict,
    judge_challenge,
)
from custodes.biometrics.liveness.passive import PadModel, load_pad_model, probability
from custodes.biometrics.liveness.tracking import track_faces

# Texture is scored only on roughly frontal frames: the model was trained on frontal faces, and a
# turned head shows background and hair inside the box.
PASSIVE_MAX_ABS_YAW = 0.2


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    passive_score: float | None  # probability of a bona fide face, mean logit over frontal frames
    challenge_ok: bool | None  # None when no challenge was asked
    reasons: tuple[str, ...]
    model_version: str
    passive_threshold: float = 0.0
    frame_scores: tuple[float | None, ...] = ()
    challenge: ChallengeVerdict | None = None
    # Observations that do not decide anything by themselves (a frame where the face was lost).
    notes: tuple[str, ...] = field(default=())
    # The face judged in each frame (None where none was), with YuNet's 5 points when the
    # challenge measured them, so the frames can be matched without detecting them again.
    faces: tuple[DetectedFace | None, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "passive_score": None if self.passive_score is None else round(self.passive_score, 4),
            "passive_threshold": round(self.passive_threshold, 4),
            "challenge_ok": self.challenge_ok,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "model_version": self.model_version,
            "frame_scores": [None if s is None else round(s, 4) for s in self.frame_scores],
            "challenge": self.challenge.as_dict() if self.challenge else None,
        }


def _one_face_per_frame(detected) -> tuple[list[DetectedFace | None], list[str], list[str]]:
    """The face to judge in each frame, with failure reasons (two faces) and notes (no face)."""
    chosen: list[DetectedFace | None] = []
    reasons: list[str] = []
    notes: list[str] = []
    for i, found in enumerate(detected):
        if found is not None and not isinstance(found, DetectedFace):
            if len(found) > 1:
                # A second face (a photo held beside the wearer, a bystander) makes the frame unusable.
                reasons.append(f"{len(found)} faces in frame {i}")
                chosen.append(None)
                continue
            found = found[0] if found else None
        if found is None:
            notes.append(f"no face in frame {i}")
        chosen.append(found)
    return chosen, reasons, notes


def _points5(frame: np.ndarray, face: DetectedFace | None):
    """YuNet's 5 points for the face (searched in its box only, a few ms), for the depth cue."""
    if face is None:
        return None
    if face.points5 is not None:
        return face.points5
    from custodes.biometrics.sface_model import get_yunet

    return get_yunet().points_in_box(frame, face.box)


def _passive_logits(frames, chosen, model: PadModel) -> list[float | None]:
    return [None if face is None or abs(face.pose.yaw) > PASSIVE_MAX_ABS_YAW else model.score_face(frame, face.box)
            for frame, face in zip(frames, chosen, strict=True)]


def assess_liveness(
    frames: Sequence[np.ndarray],
    challenge: Challenge | None,
    faces: Sequence[Sequence[DetectedFace] | DetectedFace | None] | None = None,
    *,
    first_face: DetectedFace | None = None,
    model: PadModel | None = None,
    rules: ChallengeRules = DEFAULT_RULES,
    mirrored: bool = False,
) -> LivenessResult:
    """Judge RGB `frames` (frame 0 neutral and frontal, then the challenge movement).

    `faces` may pass the detections the caller already made (one list of faces, a single face or
    None per frame), so no frame is detected twice; without it, `track_faces` finds them (frame 0
    searched whole unless `first_face` is given, e.g. from the quality gate; later frames only near
    the face). With `challenge=None` only the passive check runs (e.g. for a single photo).
    """
    model = model or load_pad_model()
    if not frames:
        return LivenessResult(False, None, None, ("no frames were sent",), model.version, model.probability_threshold)
    detected = track_faces(frames, first_face) if faces is None else list(faces)
    if len(detected) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(detected)} detection results")
    chosen, reasons, notes = _one_face_per_frame(detected)
    crowded = bool(reasons)  # two faces in any frame fail: the frames must show one person only

    logits = _passive_logits(frames, chosen, model)
    scored = [s for s in logits if s is not None]
    mean_logit = float(np.mean(scored)) if scored else None
    passive_score = None if mean_logit is None else probability(mean_logit)
    passive_ok = mean_logit is not None and mean_logit >= model.threshold
    if mean_logit is None:
        reasons.append("no frontal face to check for a presentation attack")
    elif not passive_ok:
        reasons.append(f"looks like a photo or screen, not a live face "
                       f"(score {passive_score:.2f} < {model.probability_threshold:.2f})")

    verdict = None
    if challenge is not None:
        points5 = None
        if challenge.kind in (ChallengeKind.LOOK_UP, ChallengeKind.LOOK_DOWN):
            points5 = [_points5(frame, face) for frame, face in zip(frames, chosen, strict=True)]
        verdict = judge_challenge(challenge, [f.landmarks if f else None for f in chosen], rules, mirrored, points5)
        reasons += list(verdict.reasons)
        if points5 is not None:
            chosen = [f if f is None or p is None else replace(f, points5=tuple(map(tuple, np.asarray(p).tolist())))
                      for f, p in zip(chosen, points5, strict=True)]
    challenge_ok = None if verdict is None else verdict.ok
    return LivenessResult(
        passed=passive_ok and challenge_ok is not False and not crowded,
        passive_score=passive_score,
        challenge_ok=challenge_ok,
        reasons=tuple(dict.fromkeys(reasons)),
        notes=tuple(notes),
        model_version=model.version,
        passive_threshold=model.probability_threshold,
        frame_scores=tuple(None if s is None else probability(s) for s in logits),
        challenge=verdict,
        faces=tuple(chosen),
    )
