"""The pipeline's way of feeding the rules engine (vectorised runs cut at curfew instants, status
reports in between) gives exactly the events and state of the plain scalar evaluators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules import (
    Circle,
    CurfewRule,
    RuleSet,
    StatusReport,
    SubjectState,
    ZoneRule,
    evaluate_fix,
    evaluate_status,
)
from custodes.rules.models import Fix
from custodes.telemetry.evaluation import evaluate, fix_id
from custodes.telemetry.schemas import FixColumns

HOME = (51.5, -0.12)
RULES = RuleSet(
    zones=(ZoneRule("home", "inclusion", Circle(*HOME, 100.0), margin_m=10, min_dwell_s=60),
           ZoneRule("x", "exclusion", Circle(51.52, -0.12, 300.0), margin_m=20, min_dwell_s=60)),
    curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12),
                        tz="Europe/London", no_fix_after_s=1800),))


def walk(rng, start: datetime, n: int, step_s: int) -> FixColumns:
    lat = HOME[0] + rng.normal(0, 1e-4, n)
    lon = HOME[1] + rng.normal(0, 1.5e-4, n)
    for a in rng.integers(0, n - 60, 4):  # trips: into the exclusion zone and back
        lat[a:a + 50] = 51.52 + rng.normal(0, 2e-4, 50)
        lon[a:a + 50] = -0.12
    t = np.int64(start.timestamp() * 1000) + np.arange(n, dtype=np.int64) * step_s * 1000
    t[rng.integers(0, n, 20)] -= 7_000  # a few out of order
    return FixColumns(np.arange(n, dtype=np.int32), t, lat, lon, rng.uniform(3, 20, n).astype(np.float32),
                      np.zeros(n, np.uint8), np.full(n, np.nan, np.float32))


def scalar(state, cols: FixColumns, statuses, seq, now):
    items = [(int(cols.t_ms[i]), 1, i) for i in range(len(cols))] + [(s["t_ms"], 0, s) for s in statuses]
    events = []
    for t, kind, ref in sorted(items, key=lambda x: (x[0], x[1])):
        at = datetime.fromtimestamp(t / 1000, UTC)
        if kind:
            i = ref
            state, ev = evaluate_fix(state, Fix(at, float(cols.lat[i]), float(cols.lon[i]), float(cols.accuracy_m[i]),
                                                "gps", None, fix_id(seq, int(cols.index[i]))), RULES, now)
        else:
            state, ev = evaluate_status(state, StatusReport(at, ref["battery_pct"], ref["strap"], ref["charging"]),
                                        RULES, now)
        events += ev
    return state, events


def test_vectorised_feeding_equals_the_scalar_evaluators():
    rng = np.random.default_rng(3)
    start = datetime(2027, 3, 27, 16, tzinfo=UTC)  # the night before the spring DST change
    now = start + timedelta(days=2)
    a = b = SubjectState(str(uuid.uuid4()))
    a_events, b_events = [], []
    for seq in range(4):
        cols = walk(rng, start + timedelta(hours=4 * seq), 960, 15)  # 4 hours a batch, 15 s apart
        t_mid = int(cols.t_ms[480])
        statuses = [{"t_ms": t_mid, "battery_pct": 4.0 if seq == 2 else 80.0, "strap": "closed", "charging": False}]
        a, ev = evaluate(a, RULES, now, uuid.uuid4(), seq, cols, statuses)
        a_events += ev
        b, ev = scalar(b, cols, statuses, seq, now)
        b_events += ev
    assert [(e.kind, e.dedupe_key, e.at) for e in a_events] == [(e.kind, e.dedupe_key, e.at) for e in b_events]
    assert {e.kind for e in a_events} >= {"curfew_breach_started", "exclusion_zone_entered", "battery_critical"}
    assert a.to_dict() == b.to_dict()
