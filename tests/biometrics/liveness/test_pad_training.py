"""Training is deterministic, and a model trained without a subject still tells that subject's
live face from a print of it (a small, subject-disjoint version of `custodes eval pad`)."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.biometrics.liveness.passive import PadModel
from custodes.lab.pad.training import (
    equal_error_threshold,
    error_rates,
    list_images,
    load_dataset,
    train_model,
)

TRAIN_SUBJECTS = [f"000{i}" for i in range(2, 10)]
HELD_OUT = "0001"


@pytest.fixture(scope="module")
def small_training_set(nuaa):
    return load_dataset(list_images(nuaa, TRAIN_SUBJECTS, per_subject=6), progress=False)


@pytest.fixture(scope="module")
def held_out_set(nuaa):
    return load_dataset(list_images(nuaa, [HELD_OUT], per_subject=8), progress=False)


def test_training_is_deterministic(small_training_set):
    first = train_model(small_training_set, data_name="subset")
    second = train_model(small_training_set, data_name="subset")
    assert first.to_json() == second.to_json()
    assert first.version == second.version
    assert PadModel.from_json(first.to_json()).to_json() == first.to_json()
    assert first.training["subjects"] == TRAIN_SUBJECTS
    assert first.training["bona_fide_images"] == 48


def test_a_subject_never_trained_on_is_judged_correctly(small_training_set, held_out_set):
    assert HELD_OUT not in set(small_training_set.subjects.tolist())
    model = train_model(small_training_set, data_name="subset")
    logits = model.logit(held_out_set.features)
    apcer, bpcer = error_rates(logits, held_out_set.bona_fide, model.threshold)
    assert held_out_set.bona_fide.sum() == 8 and (~held_out_set.bona_fide).sum() == 8
    assert apcer == 0.0, "a printed photo of an unseen subject was accepted"
    assert bpcer <= 1 / 8


def test_threshold_sits_in_the_middle_of_a_clean_gap():
    logits = np.array([-3.0, -2.0, 1.0, 2.0])
    bona_fide = np.array([False, False, True, True])
    threshold = equal_error_threshold(logits, bona_fide)
    assert -2.0 < threshold < 1.0
    assert error_rates(logits, bona_fide, threshold) == (0.0, 0.0)
