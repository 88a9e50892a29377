"""The active liveness challenge: a head movement drawn at random and judged from 5-point landmarks.

The device shows the prompt, films a few frames starting from a neutral (frontal) pose, and the
server decides from the landmarks whether the asked movement is visible relative to the first
frame. Pose comes from `HeadPose` (nose offset from the eye line, in inter-eye distances), so no
3-D model is needed and the judge runs in microseconds.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from custodes.biometrics.faces import HeadPose, Landmarks


class ChallengeKind(StrEnum):
    """Directions are the wearer's own, as the device says them."""

    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"
    LOOK_DOWN = "look_down"


PROMPTS = {
    ChallengeKind.TURN_LEFT: "Look at the camera, then slowly turn your head to your left",
    ChallengeKind.TURN_RIGHT: "Look at the camera, then slowly turn your head to your right",
    ChallengeKind.LOOK_UP: "Look at the camera, then slowly tip your head back to look up",
    ChallengeKind.LOOK_DOWN: "Look at the camera, then slowly tip your head down to look at the floor",
}

# (axis, sign): the change of HeadPose.<axis> from the neutral frame that the movement produces,
# for an unmirrored camera (turning to one's own left moves the nose to the image's right).
_EXPECTED = {
    ChallengeKind.TURN_LEFT: ("yaw", +1),
    ChallengeKind.TURN_RIGHT: ("yaw", -1),
    ChallengeKind.LOOK_UP: ("pitch", -1),
    ChallengeKind.LOOK_DOWN: ("pitch", +1),
}


@dataclass(frozen=True)
class Challenge:
    """One drawn challenge. `nonce` lets the check-in bind the frames to this draw."""

    kind: ChallengeKind
    nonce: str

    @property
    def prompt(self) -> str:
        return PROMPTS[self.kind]

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "prompt": self.prompt, "nonce": self.nonce}

    @classmethod
    def from_dict(cls, body: dict) -> Challenge:
        return cls(kind=ChallengeKind(body["kind"]), nonce=str(body["nonce"]))


def draw_challenge(kinds: Sequence[ChallengeKind] = tuple(ChallengeKind)) -> Challenge:
    """A challenge drawn with the operating system's CSPRNG, so the wearer cannot predict it."""
    return Challenge(kind=secrets.choice(list(kinds)), nonce=secrets.token_urlsafe(16))


@dataclass(frozen=True)
class ChallengeRules:
    """Thresholds in HeadPose units (inter-eye distances); a yaw change of about 0.01 is one degree.

    Hand-held printed photos that are moved, tilted or bent (NUAA's attack sequences) shift the
    landmarks by up to 0.17 in yaw and 0.21 in pitch, and live people sitting still by up to 0.16,
    so the bars sit above that: a deliberate turn of 20-30 degrees clears them. Tipping the head
    down moves the nose less than tipping it back (the nose sits in front of and below the eyes).
    """

    min_yaw_change: float = 0.20
    min_pitch_up_change: float = 0.20
    min_pitch_down_change: float = 0.15
    # The asked movement must be the main one: larger (in units of its own threshold) than the
    # movement on the other axis, so a big nod does not pass for a turn.
    dominance: float = 1.0
    # The face's scale may not jump between frames (a different face or a photo moved close).
    max_scale_change: float = 1.5
    min_frames: int = 2
    # Look up / look down must also show depth: the nose tip moving against the eye-to-mouth span
    # (`depth_ratio`). A flat print tilted toward the camera foreshortens nose, eyes and mouth alike,
    # so the ratio stays put (NUAA's hand-held prints: 90th percentile of its change 0.06-0.07;
    # YuNet's landmark noise on people sitting still up to 0.10); a real head tipped 20 degrees
    # changes it by about 0.15 (nose tip ~0.55 inter-eye distances in front of the eyes).
    min_depth_change: float = 0.08

    def threshold(self, kind: ChallengeKind) -> float:
        if kind in (ChallengeKind.TURN_LEFT, ChallengeKind.TURN_RIGHT):
            return self.min_yaw_change
        return self.min_pitch_up_change if kind is ChallengeKind.LOOK_UP else self.min_pitch_down_change


DEFAULT_RULES = ChallengeRules()


@dataclass(frozen=True)
class ChallengeVerdict:
    ok: bool
    reasons: tuple[str, ...]
    # Peak change on the asked axis in the asked direction, and the neutral/peak poses, for review.
    movement: float = 0.0
    required: float = 0.0
    poses: tuple[dict[str, float] | None, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"ok": self.ok, "reasons": list(self.reasons), "movement": round(self.movement, 4),
                "required": self.required, "poses": list(self.poses)}


def depth_ratio(points5) -> float:
    """Where the nose tip sits between the eye line (0) and the mouth line (1), measured across
    the eye line; from YuNet's 5 points (eyes, nose tip, mouth corners). Invariant under any
    affine image of a flat face, so only a 3-D head moves it."""
    p = [(float(x), float(y)) for x, y in points5]
    (ax, ay), (bx, by), (nx, ny), (lx, ly), (rx, ry) = p
    dist = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / dist, (by - ay) / dist
    mx, my = (ax + bx) / 2, (ay + by) / 2
    nose = -(nx - mx) * uy + (ny - my) * ux
    mouth = -((lx + rx) / 2 - mx) * uy + ((ly + ry) / 2 - my) * ux
    return nose / mouth if mouth else 0.0


def _opposite(kind: ChallengeKind) -> ChallengeKind:
    axis, sign = _EXPECTED[kind]
    return next(k for k, (a, s) in _EXPECTED.items() if a == axis and s == -sign)


def judge_challenge(
    challenge: Challenge | ChallengeKind,
    landmarks: Sequence[Landmarks | None],
    rules: ChallengeRules = DEFAULT_RULES,
    mirrored: bool = False,
    points5: Sequence | None = None,
) -> ChallengeVerdict:
    """Is the asked head movement visible in the frames? `landmarks[0]` is the neutral frame.

    `None` stands for a frame where no single face was found. `mirrored` is for devices that
    store selfie frames flipped left-right. `points5` (YuNet's 5 points per frame, or None) is
    needed for look up / look down, whose depth cue it gives.
    """
    kind = challenge.kind if isinstance(challenge, Challenge) else ChallengeKind(challenge)
    poses = [lm.pose() if lm is not None else None for lm in landmarks]
    shown = tuple(p.as_dict() if p else None for p in poses)
    required = rules.threshold(kind)

    def fail(*reasons: str, movement: float = 0.0) -> ChallengeVerdict:
        return ChallengeVerdict(False, reasons, movement, required, shown)

    if len(poses) < rules.min_frames:
        return fail(f"challenge needs at least {rules.min_frames} frames, got {len(poses)}")
    if poses[0] is None:
        return fail("no face in the first (neutral) frame")
    usable = [(i, lm, p) for i, (lm, p) in enumerate(zip(landmarks, poses, strict=True)) if p is not None]
    if len(usable) < rules.min_frames:
        return fail("face lost in the challenge frames: keep your face in view while moving")
    base_scale = landmarks[0].inter_eye_distance
    for i, lm, _ in usable[1:]:
        ratio = lm.inter_eye_distance / base_scale if base_scale else float("inf")
        if not 1 / rules.max_scale_change <= ratio <= rules.max_scale_change:
            return fail(f"face size jumps by {ratio:.2f}x at frame {i}: not one continuous movement")

    neutral = poses[0]
    axis, sign = _EXPECTED[kind]
    other = "pitch" if axis == "yaw" else "yaw"
    other_required = rules.min_yaw_change if other == "yaw" else min(rules.min_pitch_up_change,
                                                                      rules.min_pitch_down_change)
    sign = -sign if mirrored and axis == "yaw" else sign

    def delta(p: HeadPose, name: str) -> float:
        return getattr(p, name) - getattr(neutral, name)

    moves = [(sign * delta(p, axis), abs(delta(p, other))) for _, _, p in usable[1:]]
    best, side = max(moves, key=lambda m: m[0])
    backwards = max(-m for m, _ in moves)
    if best >= required:
        if best / required >= rules.dominance * side / other_required:
            if axis == "pitch":
                return _with_depth(kind, usable, moves, required, points5, rules, best, shown)
            return ChallengeVerdict(True, (), best, required, shown)
        return fail(f"the head moved mostly on the wrong axis: asked to {kind.value.replace('_', ' ')}",
                    movement=best)
    if backwards >= rules.threshold(_opposite(kind)):
        return fail(f"moved the other way: asked to {kind.value.replace('_', ' ')}, "
                    f"saw {_opposite(kind).value.replace('_', ' ')}", movement=best)
    if best <= 0.25 * required and max(s for _, s in moves) < other_required:
        return fail("no head movement visible in the frames", movement=best)
    return fail(f"head movement too small: {best:.2f} of the {required:.2f} needed to "
                f"{kind.value.replace('_', ' ')}", movement=best)


def _with_depth(kind, usable, moves, required, points5, rules, best, shown) -> ChallengeVerdict:
    """Accept a look up / look down only if a frame that shows the movement also shows depth."""
    def fail(reason: str) -> ChallengeVerdict:
        return ChallengeVerdict(False, (reason,), best, required, shown)

    if points5 is None or points5[0] is None:
        return fail("the head's depth could not be measured: look up / look down needs the 5-point landmarks")
    sign = -1 if kind is ChallengeKind.LOOK_UP else 1
    neutral = depth_ratio(points5[0])
    depth = [sign * (depth_ratio(points5[i]) - neutral) for (i, _, _), (m, _) in zip(usable[1:], moves, strict=True)
             if m >= required and points5[i] is not None]
    if depth and max(depth) >= rules.min_depth_change:
        return ChallengeVerdict(True, (), best, required, shown)
    return fail("the face tilted like a flat picture, without the nose moving in depth: "
                f"{'look up' if sign < 0 else 'look down'} by tipping the head itself")
