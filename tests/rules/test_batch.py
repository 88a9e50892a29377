"""The batch path must give exactly the events and states of the scalar path, on random data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
import pytest

from custodes.config import data_root
from custodes.rules import (
    Circle,
    CurfewRule,
    Fix,
    RuleSet,
    SubjectState,
    ZoneRule,
    evaluate_fix,
    evaluate_tick,
)
from custodes.rules.batch import BatchEvaluator, FixBatch

from .rules_support import at, offset


@lru_cache(maxsize=1)
def city_of_london():
    feats = json.loads((data_root() / "zones" / "london_boroughs.geojson").read_text())["features"]
    return next(f for f in feats if f["properties"]["BOROUGH"] == "City of London")


def population(rng, n):
    rules, homes = [], []
    city = city_of_london()
    for i in range(n):
        home = offset(51.5155, -0.092, *rng.uniform(-1500, 1500, 2))  # around the City
        homes.append(home)
        zones = [ZoneRule("home", "inclusion", Circle(*home, float(rng.uniform(60, 150))),
                          margin_m=float(rng.choice([0, 5, 10])), min_dwell_s=float(rng.choice([0, 30, 60, 120])))]
        for z in range(rng.integers(0, 4)):
            c = offset(*home, *rng.uniform(-600, 600, 2))
            zones.append(ZoneRule(f"x{z}", "exclusion", Circle(*c, float(rng.uniform(80, 300))),
                                  margin_m=float(rng.choice([0, 10, 20])), min_dwell_s=float(rng.choice([0, 60]))))
        if rng.random() < 0.5:
            zones.append(ZoneRule("city", "exclusion", city, margin_m=10, min_dwell_s=60))
        if rng.random() < 0.3:
            half = float(rng.uniform(100, 300))
            sw, ne = offset(*home, -half, -half), offset(*home, half, half)
            zones.append(ZoneRule("block", "inclusion", {"type": "Polygon", "coordinates": [[
                [sw[1], sw[0]], [ne[1], sw[0]], [ne[1], ne[0]], [sw[1], ne[0]], [sw[1], sw[0]]]]},
                margin_m=5, min_dwell_s=30))
        curfews = ()
        if rng.random() < 0.6:
            curfews = (CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, int(rng.integers(18, 23))),
                                  timedelta(hours=int(rng.integers(6, 12))), no_fix_after_s=1200),)
        rules.append(RuleSet(zones=tuple(zones), curfews=curfews, silent_after_s=float(rng.choice([900, 3600]))))
    return rules, homes


def trails(rng, homes, start, minutes):
    """Mean-reverting walks around each home with noise, cell fixes, glitches, gaps and repeats."""
    out = []
    for i, home in enumerate(homes):
        pos = np.zeros(2)
        t = start
        for _ in range(minutes):
            t += timedelta(seconds=int(rng.integers(20, 90)))
            if rng.random() < 0.02:
                t += timedelta(minutes=int(rng.integers(20, 120)))  # silence
            pos = 0.9 * pos + rng.normal(0, 120, 2)
            acc, src = (float(rng.uniform(3, 40)), "gps") if rng.random() > 0.05 else (float(rng.uniform(300, 1500)), "cell")
            e, nth = pos if rng.random() > 0.01 else pos + rng.normal(0, 50_000, 2)  # a glitch
            lat, lon = offset(*home, e, nth)
            f = Fix(t, lat, lon, acc, src, fix_id=len(out))
            out.append((i, f))
            if rng.random() < 0.03:
                out.append((i, f))  # duplicate
            if rng.random() < 0.03:
                out.append((i, Fix(t - timedelta(minutes=5), lat, lon, acc, src, fix_id=len(out))))  # late
    return out


@pytest.mark.parametrize("seed, start", [(7, at(2027, 3, 27, 14)),  # into the spring-forward night
                                         (11, at(2027, 10, 30, 20))])  # through the fall-back night
def test_batch_and_scalar_paths_give_identical_events_and_states(seed, start):
    rng = np.random.default_rng(seed)
    rules, homes = population(rng, 60)
    ids = [f"s{i}" for i in range(len(rules))]
    data = trails(rng, homes, start, 260)
    t_end = max(f.at for _, f in data)
    batch_ev = BatchEvaluator(ids, rules)
    states = [SubjectState(sid) for sid in ids]
    cut = start
    n_events = 0
    while cut < t_end:
        nxt = cut + timedelta(minutes=int(rng.integers(10, 90)))
        chunk = [(i, f) for i, f in data if cut < f.at <= nxt or (f.at <= cut and f.fix_id % 7 == 0)]
        rng.shuffle(chunk)
        got = batch_ev.evaluate(FixBatch.from_fixes([i for i, _ in chunk], [f for _, f in chunk]), nxt)
        want = []
        for i, f in sorted(chunk, key=lambda x: (x[0], x[1].at)):
            states[i], ev = evaluate_fix(states[i], f, rules[i], nxt)
            want += ev
        assert [e.to_dict() for e in got] == [e.to_dict() for e in want]
        got = batch_ev.tick(nxt)
        want = []
        for i in range(len(rules)):
            states[i], ev = evaluate_tick(states[i], rules[i], nxt)
            want += ev
        assert sorted(e.dedupe_key for e in got) == sorted(e.dedupe_key for e in want)
        n_events += len(want)
        cut = nxt
    for i in range(len(rules)):
        assert batch_ev.state(i) == states[i]
    assert n_events > 0
    assert batch_ev.scalar_runs > 0 and batch_ev.pairs > 0  # both paths were exercised


def test_a_stale_outside_fix_at_window_start_then_a_fresh_one_starts_the_breach_on_both_paths():
    home = offset(51.5, -0.12, 0, 0)
    rules = [RuleSet(zones=(ZoneRule("home", "inclusion", Circle(*home, 100.0), min_dwell_s=0),),
                     curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12)),),
                     silent_after_s=86400)]
    away = offset(*home, 0, 900)
    first = [Fix(at(2027, 1, 12, 15), *away, 5.0, fix_id=1)]  # outside, four hours before the window
    # A cell fix in the window: too coarse to say anything, so no breach and no "no fix" either.
    coarse = [Fix(at(2027, 1, 12, 19, 5), *away, 2500.0, "cell", fix_id=2)]
    later = [Fix(at(2027, 1, 12, 19, 10) + timedelta(minutes=m), *away, 5.0, fix_id=10 + m) for m in range(3)]
    ev = BatchEvaluator(["s"], rules)
    got = ev.evaluate(FixBatch.from_fixes([0], first), first[0].at) + ev.tick(at(2027, 1, 12, 19, 1))
    got += ev.evaluate(FixBatch.from_fixes([0], coarse), coarse[0].at)
    got += ev.evaluate(FixBatch.from_fixes([0, 0, 0], later), later[-1].at)
    state, want = SubjectState("s"), []
    for item in [*first, at(2027, 1, 12, 19, 1), *coarse, *later]:
        if isinstance(item, Fix):
            state, out = evaluate_fix(state, item, rules[0], item.at)
        else:
            state, out = evaluate_tick(state, rules[0], item)
        want += out
    assert [e.kind for e in want] == ["curfew_breach_started"] and want[0].at == later[0].at
    assert [e.to_dict() for e in got] == [e.to_dict() for e in want]


def test_a_batch_with_impossible_numbers_is_refused():
    rules = [RuleSet(zones=(ZoneRule("h", "inclusion", Circle(51.5, -0.12, 100.0)),))]
    ev = BatchEvaluator(["s"], rules)
    t = np.array([1_800_000_000_000_000], np.int64)
    for lat, lon, acc in ((np.nan, 0.0, 5.0), (51.0, 181.0, 5.0), (51.0, 0.0, -1.0), (51.0, 0.0, np.nan)):
        with pytest.raises(ValueError):
            ev.evaluate(FixBatch(np.zeros(1, np.int64), t, np.array([lat]), np.array([lon]), np.array([acc])),
                        at(2027, 1, 16))


def test_window_openings_in_columns_equal_the_scalar_ticks():
    """Inside, outside on a fresh fix (a breach from the start) and outside on an old fix: a whole
    population's window opens inside one batch, in columns, with the scalar path's events."""
    home = offset(51.5, -0.12, 0, 0)
    rules = [RuleSet(zones=(ZoneRule("home", "inclusion", Circle(*home, 100.0), min_dwell_s=0),),
                     curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12)),),
                     silent_after_s=86400)] * 30
    ids = [f"s{i}" for i in range(30)]
    away = offset(*home, 0, 900)
    t0 = at(2027, 1, 12, 18, 50)
    data = []
    for i in range(30):
        pos = home if i % 3 == 0 else away
        gap = 40 if i % 3 == 2 else 0  # the last third went quiet long before the window
        data += [(i, Fix(t0 - timedelta(minutes=gap) + timedelta(minutes=m), *pos, 5.0, fix_id=100 * i + m))
                 for m in range(8 if gap else 0, 20)]
    ev = BatchEvaluator(ids, rules, [SubjectState(s, curfews_checked_to=t0 - timedelta(hours=1)) for s in ids])
    states = [SubjectState(s, curfews_checked_to=t0 - timedelta(hours=1)) for s in ids]
    now = t0 + timedelta(minutes=30)
    got = ev.evaluate(FixBatch.from_fixes([i for i, _ in data], [f for _, f in data]), now)
    want = []
    for i, f in data:
        states[i], out = evaluate_fix(states[i], f, rules[i], now)
        want += out
    assert [e.to_dict() for e in got] == [e.to_dict() for e in want]
    assert "curfew_breach_started" in {e.kind for e in want}
    assert [ev.state(i) for i in range(30)] == states
    assert ev.vector_openings > 0
