"""`custodes pad train` and `custodes eval pad` on a tiny NUAA-layout folder (links, not copies)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custodes.biometrics.liveness.passive import PadModel, load_pad_model
from custodes.cli.main import app

runner = CliRunner()
SUBJECTS = ("0002", "0003", "0008")


@pytest.fixture(scope="module")
def tiny(nuaa, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nuaa-tiny")
    for folder in ("ClientRaw", "ImposterRaw"):
        for subject in SUBJECTS:
            target = root / folder / subject
            target.mkdir(parents=True)
            for image in sorted((nuaa / folder / subject).glob("*.jpg"))[:4]:
                (target / image.name).symlink_to(image)
    return root


def test_train_command_reproduces_the_model_byte_for_byte(tiny, tmp_path):
    outputs = []
    for name in ("a.json", "b.json"):
        result = runner.invoke(app, ["pad", "train", "--data", str(tiny), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    model = PadModel.from_json(outputs[0].decode())
    assert model.training["subjects"] == list(SUBJECTS)
    assert model.training["bona_fide_images"] == 12


def test_eval_command_reports_apcer_and_bpcer_as_json(tiny, tmp_path):
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", "pad", "--data", str(tiny), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {"apcer", "bpcer", "apcer_ci95", "bpcer_ci95", "subjects", "challenge_alone"} <= set(report)
    assert [r["subject"] for r in report["subjects"]] == list(SUBJECTS)
    assert report["bona_fide_images"] == 12 and report["attack_images"] + sum(report["not_acquired"].values()) == 12
    assert "APCER" in result.output and "BPCER" in result.output


def test_eval_command_scores_a_fixed_model_and_says_which_subjects_it_saw(tiny, tmp_path):
    from custodes.biometrics.liveness.passive import MODEL_PATH

    out = tmp_path / "fixed.json"
    result = runner.invoke(app, ["eval", "pad", "--data", str(tiny), "--model", str(MODEL_PATH), "--tracked",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["scored_boxes"] == "tracked (as in check-ins)"
    assert "subjects also in its training data: ['0002', '0003', '0008']" in report["protocol"]
    assert {r["threshold"] for r in report["subjects"]} == {round(load_pad_model().threshold, 4)}
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    refused = runner.invoke(app, ["eval", "pad", "--data", str(tiny), "--model", str(bad)])
    assert refused.exit_code == 2 and "not a custodes-pad-model/1 file" in refused.output


def test_bench_command_prints_latency_json_with_its_baseline(tiny):
    result = runner.invoke(app, ["bench", "liveness", "--data", str(tiny), "--check-ins", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["frame_size"] == "640x480" and report["check_ins"] == 3
    for key in ("passive_check_per_face_given_box", "assess_liveness_with_tracking",
                "assess_liveness_with_tracking_photo_face_given", "baseline_whole_frame_detection_each_frame"):
        assert report[key]["median_ms"] > 0


@pytest.mark.parametrize("command", [["pad", "train"], ["eval", "pad"], ["bench", "liveness"]])
def test_a_wrong_folder_gets_one_readable_line(command, tmp_path):
    missing = runner.invoke(app, [*command, "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    empty = runner.invoke(app, [*command, "--data", str(tmp_path)])
    assert empty.exit_code == 2
    assert "expected the NUAA layout" in empty.output
