"""Property: a pipeline turn through `evaluate_many` gives every subject exactly what the
per-subject `evaluate` gives, run by run, whether the states carry the batch path's columns from
the turn before or come back from JSON (as a worker reading them from the database sees them).

Turns span a curfew opening; subjects may have several runs in one turn, status reports, no
fixes, duplicates, late and future fixes, proximity rules, and rule sets of every zone kind.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.rules import Circle, CurfewRule, RuleSet, SubjectState, ZoneRule
from custodes.rules.proximity import Beacons, ProximityRule
from custodes.telemetry.evaluation import Run, evaluate, evaluate_many
from custodes.telemetry.schemas import FixColumns

HOME = (51.5, -0.12)
KY, KX = 111_250.0, 69_400.0  # metres per degree near London (lat, lon)
SQUARE = {"type": "Polygon", "coordinates": [[[-0.1215, 51.4991], [-0.1185, 51.4991], [-0.1185, 51.5009],
                                              [-0.1215, 51.5009], [-0.1215, 51.4991]]]}
NIGHT = CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12),
                   tz="Europe/London", no_fix_after_s=600)
RULESETS = [
    RuleSet(zones=(ZoneRule("home", "inclusion", Circle(*HOME, 100.0), margin_m=10, min_dwell_s=60),
                   ZoneRule("x", "exclusion", Circle(HOME[0] + 0.004, HOME[1], 150.0), margin_m=20, min_dwell_s=30)),
            curfews=(NIGHT,), silent_after_s=900),
    RuleSet(zones=(ZoneRule("home", "inclusion", SQUARE, margin_m=5, min_dwell_s=0),), curfews=(NIGHT,)),
    RuleSet(zones=(ZoneRule("x", "exclusion", Circle(*HOME, 120.0), margin_m=0, min_dwell_s=60),)),
    RuleSet(),
]
PROXIMITY = (ProximityRule("p", "victim", 150.0, max_skew_s=120, min_dwell_s=30),)
START = datetime(2027, 5, 4, 17, 50, tzinfo=UTC)  # 18:50 London: the windows open at 18:00 UTC


def _cols(rng, t0_ms: int, n: int) -> FixColumns:
    t = t0_ms + np.cumsum(rng.integers(5_000, 40_000, n)).astype(np.int64)
    if n > 2 and rng.random() < 0.3:
        t[rng.integers(0, n)] = t[rng.integers(0, n)]  # a duplicate time
    if n and rng.random() < 0.15:
        t[rng.integers(0, n)] -= 600_000  # a late fix
    away = rng.random() < 0.4
    metres = rng.normal(0, 60, (n, 2)) + (rng.normal(0, 300, 2) if away else 0.0)
    acc = np.where(rng.random(n) < 0.1, rng.uniform(200, 900, n), rng.uniform(2, 40, n))
    return FixColumns(np.arange(n, dtype=np.int32), t, HOME[0] + metres[:, 1] / KY, HOME[1] + metres[:, 0] / KX,
                      acc.astype(np.float32), (rng.random(n) < 0.1).astype(np.uint8), np.full(n, np.nan, np.float32))


def _turns(seed: int, subjects: int, n_turns: int):
    rng = np.random.default_rng(seed)
    rules = [RULESETS[int(rng.integers(len(RULESETS)))] for _ in range(subjects)]
    prox = [PROXIMITY if rng.random() < 0.4 else () for _ in range(subjects)]
    clock = np.full(subjects, int(START.timestamp() * 1000), np.int64)
    turns = []
    for k in range(n_turns):
        runs = []
        for i in rng.choice(subjects, size=int(rng.integers(1, 2 * subjects + 1)), replace=True).tolist():
            cols = _cols(rng, int(clock[i]), int(rng.integers(0, 25)))
            if len(cols):
                clock[i] = max(clock[i], int(cols.t_ms.max()))
            statuses = []
            if rng.random() < 0.15:
                statuses = [{"t_ms": int(clock[i]) - 1000, "battery_pct": float(rng.choice([3.0, 15.0, 80.0])),
                             "strap": "closed", "charging": bool(rng.random() < 0.5)}]
            runs.append((i, cols, statuses))
        now_ms = int(clock.max()) + int(rng.integers(0, 400_000))
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        e, nn = rng.normal(0, 150, 2)
        beacons = Beacons.of({"victim": ((now_ms - int(rng.integers(0, 200_000))) * 1000, HOME[0] + nn / KY,
                                         HOME[1] + e / KX, float(rng.uniform(5, 30)))})
        turns.append((runs, now, beacons, k))
    return rules, prox, turns


def _dicts(results):
    return [(s.to_dict(), [e.to_dict() for e in ev]) for s, ev in results]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), subjects=st.integers(1, 6), n_turns=st.integers(1, 5))
def test_evaluate_many_equals_evaluate_run_by_run(seed, subjects, n_turns):
    rules, prox, turns = _turns(seed, subjects, n_turns)
    device = uuid.UUID(int=1)
    one = [SubjectState(f"s{i}", curfews_checked_to=START - timedelta(minutes=5)) for i in range(subjects)]
    many, cold = list(one), list(one)
    for runs, now, beacons, seq in turns:
        want = []
        for i, cols, statuses in runs:
            one[i], ev = evaluate(one[i], rules[i], now, device, seq, cols, statuses, proximity=prox[i],
                                  beacons=beacons)
            want.append((one[i], ev))
        got = evaluate_many([Run(many[i], rules[i], device, seq, cols, statuses, prox[i])
                             for i, cols, statuses in runs], now, beacons)
        from_json = evaluate_many([Run(SubjectState.from_dict(cold[i].to_dict()), rules[i], device, seq, cols,
                                       statuses, prox[i]) for i, cols, statuses in runs], now, beacons)
        assert _dicts(got) == _dicts(want)
        assert _dicts(from_json) == _dicts(want)
        for (i, _, _), (s_many, _), (s_cold, _) in zip(runs, got, from_json):
            many[i], cold[i] = s_many, s_cold


def test_carried_columns_belong_to_that_state_and_rule_set_only():
    cols = _cols(np.random.default_rng(1), int(START.timestamp() * 1000), 10)
    state = SubjectState("s0", curfews_checked_to=START - timedelta(minutes=5))
    now = START + timedelta(minutes=10)
    (st, _), = evaluate_many([Run(state, RULESETS[0], uuid.UUID(int=1), 0, cols, [])], now)
    assert st.columns is not None  # written by the batch path
    assert st.evolve(battery="low").columns is None  # any change drops them
    assert SubjectState.from_dict(st.to_dict()).columns is None and "columns" not in st.to_dict()
    assert st == SubjectState.from_dict(st.to_dict())  # not part of the state's value
