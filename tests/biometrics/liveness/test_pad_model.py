"""The passive check: texture features, the shipped model file, and real NUAA photos."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.biometrics.dlib_model import DlibModels
from custodes.biometrics.faces import FaceBox
from custodes.biometrics.image_input import load_rgb
from custodes.biometrics.liveness.passive import (
    MODEL_PATH,
    FeatureConfig,
    PadModel,
    lbp_histogram,
    load_pad_model,
    texture_features,
)


def test_lbp_codes_match_hand_worked_patches():
    # Neighbours are read clockwise from the top-left; a bit is set where neighbour >= centre.
    # 9 1 7 / 2 (right) / 6 5 4 (bottom, right to left) / 8 (left) around 5 gives bits 0,2,4,5,7:
    # six 0/1 transitions, so it falls in the last ("non-uniform") bin.
    mixed = np.array([[9, 1, 7], [8, 5, 2], [4, 5, 6]], dtype=np.uint8)
    hist = lbp_histogram(mixed, 1)
    assert hist.shape == (59,) and hist[-1] == 1.0
    # Only the top row above the centre: bits 0-2, a uniform pattern with its own bin.
    edge = np.array([[9, 9, 9], [1, 5, 1], [1, 1, 1]], dtype=np.uint8)
    assert lbp_histogram(edge, 1)[-1] == 0.0 and lbp_histogram(edge, 1).max() == 1.0
    assert np.argmax(lbp_histogram(edge, 1)) != np.argmax(lbp_histogram(np.full((3, 3), 7, np.uint8), 1))


def test_features_have_the_configured_length_and_are_hellinger():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    config = FeatureConfig()
    f = texture_features(rgb, FaceBox(20, 10, 120, 110), config)
    assert f.shape == (len(config.colour_spaces) * 3 * len(config.radii) * 59,)
    # Each histogram sums to 1, so its square roots have unit norm.
    blocks = f.reshape(-1, 59)
    assert np.allclose((blocks**2).sum(axis=1), 1.0)


def test_features_are_mirror_invariant_only_when_configured():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    box = FaceBox(0, 0, 100, 100)
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    assert np.allclose(texture_features(rgb, box), texture_features(mirrored, box))
    plain = FeatureConfig(mirror=False)
    assert not np.allclose(texture_features(rgb, box, plain), texture_features(mirrored, box, plain))


def test_the_shipped_model_is_small_json_and_round_trips():
    assert MODEL_PATH.stat().st_size < 100_000
    model = load_pad_model()
    assert PadModel.from_json(model.to_json()).to_json() == model.to_json()
    assert model.version.startswith("pad-lbp-colour/")
    assert len(model.coef) == len(model.mean) == len(model.scale) == 708
    assert model.training["subjects"] == [f"000{i}" for i in range(1, 10)]


@pytest.mark.parametrize(
    "path, bona_fide",
    [
        ("ClientRaw/0001/0001_00_00_01_0.jpg", True),
        ("ClientRaw/0006/0006_00_00_01_0.jpg", True),
        ("ClientRaw/0009/0009_01_00_01_0.jpg", True),
        ("ImposterRaw/0001/0001_00_00_01_0.jpg", False),
        ("ImposterRaw/0005/0005_00_01_02_0.jpg", False),
        ("ImposterRaw/0008/0008_00_00_01_10.jpg", False),
    ],
)
def test_shipped_model_passes_live_faces_and_catches_printed_photos(nuaa, path, bona_fide):
    # These subjects were in the shipped model's training data; the subject-disjoint check is in
    # test_pad_training.py, and the full held-out figures come from `custodes eval pad`.
    rgb = load_rgb(nuaa / path)
    face = DlibModels.load().detect(rgb)[0]
    model = load_pad_model()
    assert (model.score_face(rgb, face.box) >= model.threshold) is bona_fide
