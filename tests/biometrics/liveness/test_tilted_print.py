"""A printed photo tilted toward the camera must not pass "look up" or "look down" (real face)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from custodes.biometrics.image_input import load_rgb, pad_to
from custodes.biometrics.liveness import Challenge, ChallengeKind, assess_liveness
from custodes.biometrics.liveness.challenge import ChallengeRules
from custodes.config import data_root

PHOTO = "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"


def tilted(rgb: np.ndarray, degrees: float, distance: float = 3.0) -> np.ndarray:
    """The picture as a flat card rotated about its horizontal axis (top toward the camera for
    negative degrees), seen by a pinhole camera `distance` picture-heights away."""
    h, w = rgb.shape[:2]
    f, t = distance * h, math.radians(degrees)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = []
    for x, y in src:
        depth = f + (y - h / 2) * math.sin(t)
        dst.append([w / 2 + f * (x - w / 2) / depth, h / 2 + f * (y - h / 2) * math.cos(t) / depth])
    matrix = cv2.getPerspectiveTransform(src, np.float32(dst))
    return cv2.warpPerspective(rgb, matrix, (w, h), borderValue=(127, 127, 127))


@pytest.fixture(scope="module")
def card():
    photo = pad_to(load_rgb(data_root() / "faces" / "lfw-view1" / "images" / PHOTO))
    return photo, tilted(photo, -50)


@pytest.mark.parametrize("kind", [ChallengeKind.LOOK_UP, ChallengeKind.LOOK_DOWN])
def test_a_tilted_print_fails_look_up_and_look_down(card, kind):
    flat, tilt = card
    # Tilting the card foreshortens the face: read as looking up; straightening it, as looking down.
    frames = [flat, tilt] if kind is ChallengeKind.LOOK_UP else [tilt, flat]
    result = assess_liveness(frames, Challenge(kind, "n"))
    assert result.challenge_ok is False and not result.passed
    assert any("flat picture" in r for r in result.reasons), result.reasons
    # The landmark movement alone would have been accepted: the depth cue is what refuses it.
    without = assess_liveness(frames, Challenge(kind, "n"), rules=ChallengeRules(min_depth_change=float("-inf")))
    assert without.challenge_ok is True, without.reasons
