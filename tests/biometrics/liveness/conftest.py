"""Fixtures for liveness tests: real NUAA samples (required, never skipped) and synthetic heads."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from custodes.biometrics.faces import Landmarks
from custodes.config import data_root

# A rough head in inter-eye units (eye centres at x = +-1): outer eye corners sit behind the inner
# ones and the base of the nose in front of and below the eyes, so a 1-degree turn moves the
# nose about 0.01 inter-eye distances, as dlib's landmarks do on real faces.
HEAD = np.array([
    [1.45, 0.0, -0.3],   # 0 outer corner, eye on the image's right
    [0.55, 0.0, 0.0],    # 1 inner corner, same eye
    [-1.45, 0.0, -0.3],  # 2 outer corner, eye on the image's left
    [-0.55, 0.0, 0.0],   # 3 inner corner
    [0.0, 1.5, 1.15],    # 4 base of the nose (y down, z towards the camera)
])


def project(points: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0, scale: float = 40.0,
            centre: tuple[float, float] = (320.0, 220.0)) -> Landmarks:
    """Rotate (yaw > 0: the wearer turns to their own left; pitch > 0: tips down) and project."""
    a, b = math.radians(yaw_deg), math.radians(pitch_deg)
    yaw = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]])
    rotated = points @ (pitch @ yaw).T
    xy = rotated[:, :2] * scale + np.array(centre)
    return Landmarks(tuple((float(x), float(y)) for x, y in xy))


# YuNet's 5 points on the same head: eye centres, nose tip (further forward than the base),
# mouth corners; the eye-to-mouth span is about 1.15 inter-eye distances.
HEAD5 = np.array([
    [-1.0, 0.0, -0.15],  # eye on the image's left
    [1.0, 0.0, -0.15],   # eye on the image's right
    [0.0, 1.2, 1.2],     # nose tip
    [-0.8, 2.3, 0.3],    # mouth corner, image's left
    [0.8, 2.3, 0.3],     # mouth corner, image's right
])


@pytest.fixture
def head5():
    """`head5(yaw, pitch)` -> YuNet-style 5 points of the same 3-D head."""
    return lambda yaw=0.0, pitch=0.0, **kw: np.array(project(HEAD5, yaw, pitch, **kw).points)


@pytest.fixture
def head():
    """`head(yaw, pitch)` -> Landmarks of a real (3-D) head."""
    return lambda yaw=0.0, pitch=0.0, **kw: project(HEAD, yaw, pitch, **kw)


@pytest.fixture
def flat_print():
    """`flat_print(yaw, pitch)` -> Landmarks of a flat photo of a frontal face, turned as a card."""
    flat = project(HEAD).points
    card = np.array([[(x - 320) / 40, (y - 220) / 40, 0.0] for x, y in flat])
    return lambda yaw=0.0, pitch=0.0: project(card, yaw, pitch)


@pytest.fixture(scope="session")
def nuaa() -> Path:
    root = data_root() / "pad" / "nuaa-dev"
    assert (root / "ClientRaw").is_dir() and (root / "ImposterRaw").is_dir(), (
        f"NUAA development data missing at {root}; set CUSTODES_DATA"
    )
    return root
