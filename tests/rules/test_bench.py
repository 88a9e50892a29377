"""`custodes bench rules` end to end on a tiny population (the figures come from the command)."""

import json

from typer.testing import CliRunner

from custodes.cli.main import app


def test_bench_rules_prints_figures_settings_and_baselines():
    result = CliRunner().invoke(app, ["bench", "rules", "--subjects", "300", "--fixes-per-subject", "4",
                                      "--batches", "2", "--baseline-fixes", "50", "--borough-share", "1",
                                      "--turns", "2", "--devices-per-turn", "50", "--no-extras"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    report = json.loads(out[out.index("{"):])
    assert report["fixes"] == 300 * 4 * 2 and report["settings"]["subjects"] == 300
    assert report["fixes_per_s"] > 0 and report["baselines"]["scalar_evaluator"]["fixes"] == 50
    assert report["baselines"]["shapely_contains_xy"]["pairs"] >= 300 * 4
    assert report["zones_per_subject"] > 1 and report["scalar_subject_batches"] == 0
    assert set(report["events"]) <= {"inclusion_zone_exited", "inclusion_zone_returned", "exclusion_zone_entered",
                                     "exclusion_zone_exited", "implausible_movement"}
    pipe = report["as_called_by_the_pipeline"]
    assert pipe["engine"]["turns"] == 2 and pipe["engine"]["fixes"] >= 2 * 50
    assert pipe["shapely_bbox_contains_xy"]["fixes"] == pipe["engine"]["fixes"]  # the same fixes
    assert pipe["shapely_bbox_contains_xy"]["pairs_after_bbox"] <= pipe["shapely_bbox_contains_xy"]["pairs"]
    assert pipe["engine_states_from_json"]["fixes"] == pipe["engine"]["fixes"]  # the same turns, states from JSON
    assert 0 < pipe["engine"]["slowest_turn_over_median_cpu"] <= 1 and pipe["engine"]["full_gc_collections"] >= 0
    assert report["whole_population"]["slowest_batch_over_median_cpu"] > 0
    assert isinstance(report["load_warning"], bool) and "load_average_1m" in report
    assert len(report["load_average_1m_start_end"]) == 2 and "load average (1 min)" in result.stderr
