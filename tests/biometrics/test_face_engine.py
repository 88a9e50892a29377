"""1:1 verification with real faces: same person verified, different person not, versions recorded."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.biometrics import Template, TemplateMismatch, decode_image
from custodes.biometrics.calibration import Calibration
from custodes.biometrics.image_input import encode_jpeg

from .conftest import OTHER, SAME_A


def test_models_load_once_per_process(engine):
    from custodes.biometrics import get_engine
    from custodes.biometrics.dlib_model import DlibModels

    assert get_engine() is engine
    assert DlibModels.load() is engine.dlib
    import sys

    from custodes.biometrics import dlib_model

    assert dlib_model.LANDMARKS_FILE == "shape_predictor_5_face_landmarks.dat"  # never the 68-point model
    assert "face_recognition" not in sys.modules  # its pkg_resources import can exit the process


def test_same_person_is_verified(engine, lfw_frame):
    template = engine.enrol([lfw_frame(SAME_A[0])])
    probe = decode_image(encode_jpeg(lfw_frame(SAME_A[1])))
    result = engine.verify(template, probe)
    assert result.matched, result.as_dict()
    assert result.score >= result.threshold
    assert result.target_fmr == 1e-3
    assert result.engine_version == engine.version and engine.calibration.id in result.engine_version


def test_different_person_is_not_verified(engine, lfw_frame):
    template = engine.enrol([lfw_frame(SAME_A[0])])
    result = engine.verify(template, lfw_frame(OTHER))
    assert not result.matched, result.as_dict()
    assert result.score < result.threshold


def test_template_round_trip_and_multi_image(engine, lfw_frame):
    photos = [lfw_frame(SAME_A[0]), lfw_frame(SAME_A[1])]
    template = engine.enrol(photos)
    assert template.images == 2
    again = Template.from_bytes(template.to_bytes())
    for name in template.embeddings:
        assert np.array_equal(again.embeddings[name], template.embeddings[name])
    probe = engine.acquire(lfw_frame(SAME_A[1]))
    assert engine.compare(again, probe).score == pytest.approx(engine.compare(template, probe).score)
    # Several probe frames are averaged too.
    assert engine.compare(again, [probe, probe]).probes == 2


def test_stricter_target_has_a_higher_threshold(engine, lfw_frame):
    template = engine.enrol([lfw_frame(SAME_A[0])])
    probe = engine.acquire(lfw_frame(SAME_A[1]))
    loose, strict = engine.compare(template, probe), engine.compare(template, probe, target_fmr=1e-4)
    assert strict.threshold > loose.threshold and strict.target_fmr == 1e-4
    with pytest.raises(ValueError):
        engine.compare(template, probe, target_fmr=1e-6)


def test_template_from_other_models_is_refused(engine, lfw_frame):
    template = engine.enrol([lfw_frame(SAME_A[0])])
    foreign = Template({k: v + "-old" for k, v in template.model_versions.items()}, template.embeddings)
    with pytest.raises(TemplateMismatch):
        engine.compare(foreign, engine.acquire(lfw_frame(SAME_A[1])))
    with pytest.raises(ValueError):
        Template.from_bytes(b'{"format": "something-else"}')


def test_shipped_calibration_matches_installed_models(engine):
    cal = Calibration.load()
    assert cal.thresholds["1e-04"] > cal.thresholds["1e-03"] > cal.thresholds["1e-02"]
    assert {m.name: m.version for m in cal.models} == engine.model_versions


def test_exported_helpers_for_liveness(engine, lfw_frame):
    frame = lfw_frame(SAME_A[0])
    [face] = engine.detect(frame)
    assert face.box.width > 80 and len(face.landmarks.points) == 5
    assert abs(face.pose.yaw) < 0.3 and abs(face.pose.roll) < 15
    chip = engine.chip(frame, face)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8


def test_enrol_from_acquisitions_equals_enrol_from_photos(engine, lfw_frame):
    photo = lfw_frame(SAME_A[0])
    from_photo = engine.enrol([photo])
    from_acquisition = engine.enrol([engine.acquire(photo)])
    for name in from_photo.embeddings:
        assert np.allclose(from_photo.embeddings[name], from_acquisition.embeddings[name], atol=1e-6)


# Two people carrying the same race label (and both men), for the same-group impostor test;
# labels are only used to pick the test case, never by the engine.
SAME_GROUP = ("Denzel_Washington/Denzel_Washington_0001.jpg", "Denzel_Washington/Denzel_Washington_0004.jpg",
              "Will_Smith/Will_Smith_0001.jpg")


def test_fused_engine_verifies_the_person_and_refuses_someone_of_the_same_group(engine, lfw_frame, lfw_dir):
    import json

    race = json.loads((lfw_dir.parent / "labels" / "lfw_race_by_identity.json").read_text())
    assert race["Denzel_Washington"] == race["Will_Smith"] == "african"
    assert {"sface", "faceres"} <= set(engine.models)  # the fusion, not one model
    template = engine.enrol([lfw_frame(SAME_GROUP[0])])
    same = engine.verify(template, lfw_frame(SAME_GROUP[1]))
    other = engine.verify(template, lfw_frame(SAME_GROUP[2]))
    assert same.matched, same.as_dict()
    assert not other.matched, other.as_dict()
    assert set(same.model_scores) == set(engine.models)


def test_scores_are_normalised_by_the_templates_own_cohort_statistics(engine, lfw_frame):
    template = engine.enrol([lfw_frame(SAME_A[0])])
    norm = template.cohort_norm
    assert norm["cohort"] == engine.calibration.cohort["id"] and norm["std"] > 0
    assert Template.from_bytes(template.to_bytes()).cohort_norm == norm  # computed once, kept
    result = engine.compare(template, engine.acquire(lfw_frame(SAME_A[1])))
    raw = float(engine.calibration.fuse(result.model_scores))
    assert result.score == pytest.approx((raw - norm["mean"]) / norm["std"])
    # A template whose neighbourhood is more crowded needs a higher raw score to match.
    crowded = Template(template.model_versions, template.embeddings,
                       {**norm, "mean": norm["mean"] + norm["std"]})
    assert engine.compare(crowded, engine.acquire(lfw_frame(SAME_A[1]))).score == pytest.approx(result.score - 1)
