"""Victim proximity: an approach raises one alert, jitter at the edge none, stale positions nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules import RuleSet, SubjectState
from custodes.rules.proximity import Beacons, ProximityRule
from custodes.rules.zones import metres_per_degree
from custodes.telemetry.evaluation import Run, evaluate_many
from custodes.telemetry.schemas import FixColumns

T0 = datetime(2027, 5, 4, 10, 0, tzinfo=UTC)
VICTIM = (51.5, -0.12)
KX, KY = metres_per_degree(VICTIM[0])
RULE = ProximityRule("p1", "victim-1", radius_m=500.0, max_skew_s=180, min_dwell_s=60)


def fixes(east_m, t_s, acc=10.0) -> FixColumns:
    n = len(east_m)
    t = np.int64(T0.timestamp() * 1000) + np.asarray(t_s, np.int64) * 1000
    return FixColumns(np.arange(n, dtype=np.int32), t, np.full(n, VICTIM[0]),
                      VICTIM[1] + np.asarray(east_m, float) / KX, np.full(n, acc, np.float32),
                      np.zeros(n, np.uint8), np.full(n, np.nan, np.float32))


def beacon(t_s: float, east_m: float = 0.0, acc: float = 10.0) -> Beacons:
    us = int((T0.timestamp() + t_s) * 1e6)
    return Beacons.of({"victim-1": (us, VICTIM[0], VICTIM[1] + east_m / KX, acc)})


def run(cols, beacons_per_turn, chunk=10):
    state = SubjectState("m-1", curfews_checked_to=T0 - timedelta(minutes=1))
    events = []
    for turn, lo in enumerate(range(0, len(cols), chunk)):
        part = cols.take(np.arange(lo, min(lo + chunk, len(cols))))
        [(state, ev)] = evaluate_many([Run(state, RuleSet(), uuid.uuid4(), turn, part, [], (RULE,))],
                                      T0 + timedelta(hours=2), beacons_per_turn(turn))
        events += ev
    return state, events


def test_an_approach_inside_the_radius_raises_one_alert_carrying_the_distance_only():
    east = np.linspace(3000, 100, 60)  # walking towards the protected person, then staying near
    east = np.concatenate([east, np.full(30, 100.0)])
    t = np.arange(90) * 15
    _, events = run(fixes(east, t), lambda turn: beacon(turn * 150 + 75))
    kinds = [e.kind for e in events]
    assert kinds == ["proximity_entered"]
    ev = events[0].evidence
    assert ev["distance_m"] < 500 and ev["radius_m"] == 500
    assert not {"lat", "lon", "protected_lat", "protected_lon"} & set(ev)
    assert str(VICTIM[1])[:6] not in repr(ev)  # the protected person's position is nowhere in it


def test_leaving_again_ends_the_episode():
    east = np.concatenate([np.full(20, 100.0), np.linspace(100, 3000, 40)])  # walks away at ~5 m/s
    _, events = run(fixes(east, np.arange(60) * 15), lambda turn: beacon(turn * 150 + 75))
    assert [e.kind for e in events] == ["proximity_entered", "proximity_exited"]
    assert events[1].dedupe_key == events[0].dedupe_key + ":end"


def test_jitter_at_the_edge_raises_no_flapping():
    rng = np.random.default_rng(3)
    east = 500 + np.clip(rng.normal(0, 6, 200), -18, 18)  # on the circle, within the two accuracies
    _, events = run(fixes(east, np.arange(200) * 15), lambda turn: beacon(turn * 150 + 75))
    assert events == []


def test_stale_positions_of_either_side_raise_nothing():
    east = np.full(40, 50.0)  # right next to the protected person's last known place...
    t = np.arange(40) * 15
    # ...but the protected person's position is 10 minutes older than every fix
    _, events = run(fixes(east, t), lambda turn: beacon(turn * 150 - 600))
    assert events == []
    # the monitored person's fixes are old (a buffer uploaded late) against a fresh position
    _, events = run(fixes(east, t), lambda turn: beacon(3600))
    assert events == []
    # no position at all
    _, events = run(fixes(east, t), lambda turn: Beacons.of({}))
    assert events == []


def test_a_fresh_position_raises_where_the_stale_one_did_not():
    east = np.full(40, 50.0)
    _, events = run(fixes(east, np.arange(40) * 15), lambda turn: beacon(turn * 150 + 75))
    assert [e.kind for e in events] == ["proximity_entered"]
