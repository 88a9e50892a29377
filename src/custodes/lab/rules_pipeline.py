"""The rules engine as the pipeline calls it, and the fair shapely baseline on the same fixes.

A turn is what a worker claims at once: many devices' pending batches of 1-60 fixes each, fed to
`telemetry.evaluation.evaluate_many` (one vectorised call, the BatchEvaluator built for the turn's
subjects from their saved states) exactly as the pipeline does. The baseline is shapely all-pairs:
every (fix, zone of that person) pair, a numpy bounding-box prefilter, then `shapely.contains_xy`
on the pairs that pass (containment only: no accuracy, hysteresis, movement, curfews or events).
"""

from __future__ import annotations

import copy
import gc
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely

from custodes.rules.batch import to_us
from custodes.rules.models import RuleSet, SubjectState
from custodes.rules.proximity import Beacons, ProximityRule
from custodes.rules.zones import CompiledZone, metres_per_degree
from custodes.telemetry.evaluation import Run, evaluate, evaluate_many
from custodes.telemetry.schemas import FixColumns

DEVICE = uuid.UUID(int=0)


@dataclass
class Turn:
    subjects: np.ndarray  # population index per run
    cols: list[FixColumns]
    now: datetime
    beacons: Beacons


def turns(rng, homes, n_turns: int, devices: int, start: datetime, protected: dict[int, str],
          step_s: float = 15.0, roam_share: float = 0.1) -> list[Turn]:
    """Each turn: `devices` people chosen at random, each uploading 1-60 fixes 15 s apart that carry
    on from their previous upload; protected people's latest positions within 2 km of them.
    The first turn holds everyone (the warm-up: it confirms every zone once). Started a quarter of
    an hour before the curfews open, the turns carry the openings (each device's at its own time)."""
    n = len(homes)
    kx = np.array([metres_per_degree(h)[0] for h in homes[:, 0]])
    ky = np.array([metres_per_degree(h)[1] for h in homes[:, 0]])
    roam = rng.random(n) < roam_share
    spot = np.where(roam[:, None], rng.normal(0, 2000, (n, 2)), 0.0)
    clock = np.full(n, to_us(start), np.int64)
    out = []
    for k in range(n_turns):
        who = np.arange(n) if k == 0 else rng.choice(n, size=min(devices, n), replace=False)
        m = rng.integers(1, 61, who.size)
        cols = []
        for i, c in zip(who.tolist(), m.tolist()):
            t = clock[i] + (np.arange(1, c + 1) * step_s * 1e6).astype(np.int64) + rng.integers(0, 2_000_000, c)
            clock[i] = t[-1]
            pos = spot[i] + rng.normal(0, 15, (c, 2))
            cell = rng.random(c) < 0.02
            acc = np.where(cell, rng.uniform(300, 1500, c), rng.uniform(3, 30, c))
            pos += np.where(cell[:, None], rng.normal(0, 1, (c, 2)) * acc[:, None] / 2, 0.0)
            cols.append(FixColumns(np.arange(c, dtype=np.int32), t // 1000, homes[i, 0] + pos[:, 1] / ky[i],
                                   homes[i, 1] + pos[:, 0] / kx[i], acc.astype(np.float32),
                                   cell.astype(np.uint8), np.full(c, np.nan, np.float32)))
        now_us = int(clock.max())
        latest = {}
        for i, pid in protected.items():
            e, nn = rng.uniform(-2000, 2000, 2)
            latest[pid] = (now_us - int(rng.integers(0, 120_000_000)), homes[i, 0] + nn / ky[i],
                           homes[i, 1] + e / kx[i], float(rng.uniform(5, 30)))
        out.append(Turn(who, cols, datetime.fromtimestamp(now_us / 1e6, UTC) + timedelta(minutes=1),
                        Beacons.of(latest)))
    return out


def variant(rules: RuleSet, curfews: bool = True, dwell: bool = True) -> RuleSet:
    """The same compiled rule set without curfews or without dwell (zone geometry not rebuilt)."""
    out = copy.copy(rules)
    if not curfews:
        object.__setattr__(out, "curfews", ())
    if not dwell:
        comp = tuple(CompiledZone(replace(cz.rule, min_dwell_s=0.0), cz.shape) for cz in rules.compiled)
        object.__setattr__(out, "compiled", comp)
        object.__setattr__(out, "zones", tuple(cz.rule for cz in comp))
    return out


def engine(rulesets: list[RuleSet], data: list[Turn], states0: list[SubjectState], proximity: dict[int, tuple],
           accuracy: bool = True, one_by_one: bool = False, from_json: bool = False) -> tuple[dict, list[SubjectState]]:
    """Time `evaluate_many` over the turns, states carried from turn to turn like the pipeline's.

    States carry the batch path's columns from one turn to the next, as in a worker that keeps the
    states it wrote; with `from_json` they are read back from JSON first (untimed), as a worker
    that reads every state from the database sees them."""
    states = list(states0)
    # The set-up's garbage is not the engine's: collect it first, so that the full collections
    # seen in the timed turns are those the engine's own allocations bring on (counted below).
    gc.collect()
    full0 = gc.get_stats()[2]["collections"]
    wall = cpu = 0.0
    fixes = 0
    per_turn, events = [], Counter()
    openings = 0
    for turn in data:
        cols = turn.cols if accuracy else [replace(c, accuracy_m=np.zeros_like(c.accuracy_m)) for c in turn.cols]
        if from_json:
            for i in turn.subjects.tolist():
                states[i] = SubjectState.from_dict(states[i].to_dict())
        runs = [Run(states[i], rulesets[i], DEVICE, k, c, [], proximity.get(i, ()))
                for k, (i, c) in enumerate(zip(turn.subjects.tolist(), cols))]
        w, c0 = time.perf_counter(), time.process_time()
        if one_by_one:  # the pipeline's call today: `evaluate` for each device's batch
            res = [evaluate(r.state, r.rules, turn.now, r.device_id, r.seq, r.cols, r.statuses,
                            proximity=r.proximity, beacons=turn.beacons) for r in runs]
        else:
            res = evaluate_many(runs, turn.now, turn.beacons)
        dw, dc = time.perf_counter() - w, time.process_time() - c0
        wall, cpu = wall + dw, cpu + dc
        n = sum(len(c) for c in cols)
        fixes += n
        per_turn.append(round(n / max(dc, 1e-9)))
        for i, (st, ev) in zip(turn.subjects.tolist(), res):
            openings += sum(w.open and (states[i].windows.get(c) is None or states[i].windows[c].start != w.start)
                            for c, w in st.windows.items())
            states[i] = st
            events.update(e.kind for e in ev)
    return {"fixes": fixes, "turns": len(data), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
            "fixes_per_s": round(fixes / wall), "fixes_per_cpu_s": round(fixes / cpu),
            "per_turn_fixes_per_cpu_s": per_turn, "median_turn_fixes_per_cpu_s": round(float(np.median(per_turn))),
            "slowest_turn_over_median_cpu": round(min(per_turn) / float(np.median(per_turn)), 3),
            "windows_opened": openings, "full_gc_collections": gc.get_stats()[2]["collections"] - full0,
            "events": dict(events)}, states


def shapely_bbox(rulesets: list[RuleSet], data: list[Turn]) -> dict:
    """All (fix, zone) pairs, a numpy bbox prefilter, `shapely.contains_xy` on what passes."""
    geoms, frames, boxes, index = [], [], [], {}
    zone_rows: list[np.ndarray] = []
    for r in rulesets:
        row = []
        for cz in r.compiled:
            sh = cz.shape
            if id(sh) not in index:
                index[id(sh)] = len(geoms)
                g = sh.polygon if sh.radius is None else shapely.buffer(shapely.Point(0, 0), sh.radius, quad_segs=8)
                geoms.append(g)
                frames.append((sh.lat0, sh.lon0, sh.kx, sh.ky))
                boxes.append(shapely.bounds(g))
            row.append(index[id(sh)])
        zone_rows.append(np.asarray(row, np.int64))
    geoms_arr = np.array(geoms, dtype=object)
    shapely.prepare(geoms_arr)
    frames_arr, boxes_arr = np.array(frames), np.array(boxes)
    gc.collect()  # as for the engine
    wall = cpu = 0.0
    fixes = pairs = passed = inside = 0
    for turn in data:
        subj = turn.subjects.tolist()
        lat = np.concatenate([c.lat for c in turn.cols])
        lon = np.concatenate([c.lon for c in turn.cols])
        counts = np.array([len(c) for c in turn.cols])
        nz = np.array([len(zone_rows[i]) for i in subj])
        zflat = np.concatenate([zone_rows[i] for i in subj])
        w, c0 = time.perf_counter(), time.process_time()
        # pairs: each fix with each zone of its person
        per_fix_z = np.repeat(nz, counts)
        pf = np.repeat(np.arange(lat.size), per_fix_z)
        zoff = np.repeat(np.cumsum(nz) - nz, counts)  # first zone of the fix's person in zflat
        within = np.arange(pf.size) - np.repeat(np.cumsum(per_fix_z) - per_fix_z, per_fix_z)
        pg = zflat[np.repeat(zoff, per_fix_z) + within]
        f = frames_arr[pg]
        x = (lon[pf] - f[:, 1]) * f[:, 2]
        y = (lat[pf] - f[:, 0]) * f[:, 3]
        b = boxes_arr[pg]
        cand = np.flatnonzero((x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3]))
        hit = shapely.contains_xy(geoms_arr[pg[cand]], x[cand], y[cand])
        wall += time.perf_counter() - w
        cpu += time.process_time() - c0
        fixes += lat.size
        pairs += pf.size
        passed += cand.size
        inside += int(hit.sum())
    return {"fixes": fixes, "pairs": pairs, "pairs_after_bbox": passed, "inside_pairs": inside,
            "wall_s": round(wall, 4), "cpu_s": round(cpu, 4), "fixes_per_s": round(fixes / wall),
            "fixes_per_cpu_s": round(fixes / cpu)}


def protected_people(rng, n: int, share: float, radius_m: float = 500.0) -> tuple[dict[int, tuple], dict[int, str]]:
    """`share` of the population with a proximity rule around one protected person each."""
    who = np.flatnonzero(rng.random(n) < share)
    rules = {int(i): (ProximityRule(f"prox-{i}", f"victim-{i}", radius_m),) for i in who}
    return rules, {int(i): f"victim-{i}" for i in who}


def run(rulesets: list[RuleSet], homes, rng, start: datetime, n_turns: int, devices: int,
        proximity_share: float, extras: bool, say=lambda *a, **k: None) -> dict:
    """The pipeline-shaped figure, its shapely baseline, and (with `extras`) what each extra costs."""
    prox, protected = protected_people(rng, len(rulesets), proximity_share)
    say("generating turns")
    data = turns(rng, homes, n_turns + 1, devices, start, protected)
    warm, data = data[:1], data[1:]
    fresh = [SubjectState(f"s{i}", curfews_checked_to=start) for i in range(len(rulesets))]
    _, states = engine(rulesets, warm, fresh, prox)  # confirms every zone once: not what a worker sees
    say("engine as the pipeline calls it")
    full, _ = engine(rulesets, data, states, prox)
    say("shapely baseline")
    base = shapely_bbox(rulesets, data)
    out = {"settings": {"turns": n_turns, "devices_per_turn": devices, "fixes_per_upload": "1-60 (uniform)",
                        "proximity_share": proximity_share, "protected_people": len(protected),
                        "clock": "evaluate_many only, BatchEvaluator built per turn from saved states",
                        "warmup": "one turn of every person first (confirms every zone), not timed; every run "
                                  "starts from the states it leaves (a variant with its own rule sets "
                                  "from its own warm-up)",
                        "start": start.isoformat()},
           "engine": full, "shapely_bbox_contains_xy": base,
           "speedup_vs_shapely_bbox_cpu": round(full["fixes_per_cpu_s"] / base["fixes_per_cpu_s"], 2),
           "speedup_vs_shapely_bbox_wall": round(full["fixes_per_s"] / base["fixes_per_s"], 2)}
    if extras:
        costs = {}
        for name, rs, pr, acc in (
                ("without proximity", rulesets, {}, True),
                ("without curfews", [variant(r, curfews=False) for r in rulesets], prox, True),
                ("without dwell/hysteresis", [variant(r, dwell=False) for r in rulesets], prox, True),
                ("without accuracy circles", rulesets, prox, False)):
            say(f"engine {name}")
            # Its own warm-up, so that its states carry its own rule sets' columns, as the full run's do.
            _, warmed = engine(rs, warm, fresh, pr, accuracy=acc) if rs is not rulesets else (None, states)
            got, _ = engine(rs, data, warmed, pr, accuracy=acc)
            # From the median turns: a full collection landing in one run or the other is not a feature's cost.
            costs[name] = {"fixes_per_cpu_s": got["fixes_per_cpu_s"],
                           "median_turn_fixes_per_cpu_s": got["median_turn_fixes_per_cpu_s"],
                           "full_gc_collections": got["full_gc_collections"],
                           "share_of_full_cost_saved": round(1 - full["median_turn_fixes_per_cpu_s"]
                                                             / got["median_turn_fixes_per_cpu_s"], 3)}
        out["extras"] = costs
    # Last: the one-device-at-a-time run leaves the process slower for whatever runs after it.
    say("engine, states read back from JSON each turn")
    cold, _ = engine(rulesets, data, states, prox, from_json=True)
    out["engine_states_from_json"] = {k: cold[k] for k in ("fixes", "cpu_s", "fixes_per_cpu_s",
                                                           "median_turn_fixes_per_cpu_s", "slowest_turn_over_median_cpu")}
    say("evaluate() one device at a time")
    single, _ = engine(rulesets, data, states, prox, one_by_one=True)
    out["one_device_at_a_time"] = {k: single[k] for k in ("fixes", "cpu_s", "fixes_per_s", "fixes_per_cpu_s")}
    return out
