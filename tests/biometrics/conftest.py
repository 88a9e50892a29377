"""Fixtures for face-engine tests: small samples of real LFW faces (required, never skipped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from custodes.biometrics.image_input import load_rgb, pad_to
from custodes.config import data_root

# People with two photos each that pass the quality gate (checked in test_face_engine).
SAME_A = ("Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg")
OTHER = "Abdoulaye_Wade/Abdoulaye_Wade_0004.jpg"


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    folder = data_root() / "faces" / "lfw-view1"
    assert (folder / "images").is_dir(), f"LFW View 1 is required for the face tests: {folder} is missing"
    return folder


@pytest.fixture(scope="session")
def lfw_frame(lfw_dir):
    """`lfw_frame(rel)` -> the LFW photo centred on a 640x480 canvas (a check-in frame)."""
    return lambda rel: pad_to(load_rgb(lfw_dir / "images" / rel))


@pytest.fixture(scope="session")
def engine():
    from custodes.biometrics import get_engine

    return get_engine()


@pytest.fixture(scope="session")
def two_faces(lfw_dir) -> np.ndarray:
    """Two different people side by side on one 640x480 frame."""
    a = load_rgb(lfw_dir / "images" / SAME_A[0])
    b = load_rgb(lfw_dir / "images" / OTHER)
    canvas = np.full((480, 640, 3), 127, np.uint8)
    canvas[115:365, 60:310] = a
    canvas[115:365, 330:580] = b
    return canvas
