"""`custodes bench rules`: the batch evaluator over a synthetic London population, with baselines.

Homes are 100 m circles or small squares; each person has 0-5 exclusion zones, some of them
shared London boroughs (45,850 vertices in all); most people have a 19:00-07:00 curfew.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import shapely
import typer

from custodes.config import data_root
from custodes.lab import rules_pipeline
from custodes.rules.batch import BatchEvaluator, FixBatch, to_us
from custodes.rules.engine import evaluate_fix
from custodes.rules.models import Circle, CurfewRule, RuleSet, SubjectState, ZoneRule
from custodes.rules.zones import metres_per_degree
from custodes.telemetry.schemas import FixColumns

CURFEW = CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12))


def boroughs() -> list[dict]:
    path = data_root() / "zones" / "london_boroughs.geojson"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (set CUSTODES_DATA)")
    return json.loads(path.read_text())["features"]


def square(lat: float, lon: float, half_m: float) -> dict:
    kx, ky = metres_per_degree(lat)
    dx, dy = half_m / kx, half_m / ky
    ring = [[lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]]
    return {"type": "Polygon", "coordinates": [ring]}


def population(rng: np.random.Generator, n: int, borough_share: float, curfew_share: float):
    """Rule sets and homes: homes inside Greater London, exclusion zones near home or boroughs."""
    feats = boroughs()
    london = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in feats])
    minx, miny, maxx, maxy = london.bounds
    homes = np.empty((0, 2))
    while len(homes) < n:
        lon = rng.uniform(minx, maxx, 2 * n)
        lat = rng.uniform(miny, maxy, 2 * n)
        ok = shapely.contains_xy(london, lon, lat)
        homes = np.vstack([homes, np.column_stack([lat[ok], lon[ok]])])[:n]
    geoms = [shapely.geometry.shape(f["geometry"]) for f in feats]
    home_borough = np.full(n, -1)
    for b, g in enumerate(geoms):
        home_borough[shapely.contains_xy(g, homes[:, 1], homes[:, 0])] = b
    rulesets = []
    n_zones = rng.integers(0, 6, n)
    for i in range(n):
        lat, lon = homes[i]
        kx, ky = metres_per_degree(lat)
        home_geom = Circle(float(lat), float(lon), 100.0) if rng.random() < 0.8 else square(lat, lon, 80.0)
        zones = [ZoneRule("home", "inclusion", home_geom, margin_m=10.0, min_dwell_s=60.0)]
        for z in range(n_zones[i]):
            if rng.random() < borough_share:
                b = int(rng.integers(len(feats)))
                if b != home_borough[i] and all(zr.zone_id != f"borough-{b}" for zr in zones):
                    zones.append(ZoneRule(f"borough-{b}", "exclusion", feats[b], margin_m=25.0, min_dwell_s=120.0))
                    continue
            e, nn = rng.uniform(-3000, 3000, 2)
            zones.append(ZoneRule(f"x{z}", "exclusion", Circle(float(lat + nn / ky), float(lon + e / kx),
                                                                float(rng.uniform(100, 500))), margin_m=20.0, min_dwell_s=60.0))
        curfews = (CURFEW,) if rng.random() < curfew_share else ()
        rulesets.append(RuleSet(zones=tuple(zones), curfews=curfews, silent_after_s=3600.0))
    return rulesets, homes


def fix_batches(rng, homes, n_batches: int, per_subject: int, start: datetime, step_s: float, roam_share: float):
    """Per batch, `per_subject` fixes for every subject, `step_s` apart, already grouped by subject.

    Most people are at home (GPS noise of 15 m, accuracy 3-30 m); `roam_share` of them are out,
    drifting a few metres a second from a spot up to a few km away; 2 % of fixes are cell fixes
    (accuracy 300-1500 m, displaced by about half of that).
    """
    n = len(homes)
    kx = np.array([metres_per_degree(h)[0] for h in homes[:, 0]])
    ky = np.array([metres_per_degree(h)[1] for h in homes[:, 0]])
    roam = rng.random(n) < roam_share
    spot = np.where(roam[:, None], rng.normal(0, 2000, (n, 2)), 0.0)
    velocity = np.where(roam[:, None], rng.normal(0, 1.5, (n, 2)), 0.0)
    subject = np.repeat(np.arange(n), per_subject)
    step = np.tile(np.arange(per_subject), n)
    t0 = to_us(start)
    fix_id = 0
    for b in range(n_batches):
        k = b * per_subject + step  # fix number since the start, per subject
        t = t0 + (k * step_s * 1e6).astype(np.int64) + rng.integers(0, 2_000_000, n * per_subject)
        pos = spot[subject] + velocity[subject] * (k * step_s)[:, None] + rng.normal(0, 15, (n * per_subject, 2))
        cell = rng.random(n * per_subject) < 0.02
        acc = np.where(cell, rng.uniform(300, 1500, n * per_subject), rng.uniform(3, 30, n * per_subject))
        pos += np.where(cell[:, None], rng.normal(0, 1, (n * per_subject, 2)) * acc[:, None] / 2, 0.0)
        lat = homes[subject, 0] + pos[:, 1] / ky[subject]
        lon = homes[subject, 1] + pos[:, 0] / kx[subject]
        ids = np.arange(fix_id, fix_id + n * per_subject, dtype=np.int64)
        fix_id += n * per_subject
        yield FixBatch(subject, t, lat, lon, acc, ids, cell.astype(np.int8))


def scalar_baseline(rulesets, states, batch: FixBatch, now, limit: int) -> dict:
    """The per-fix evaluator on the first `limit` fixes of a batch."""
    st = list(states)
    fixes = [(int(batch.subject[j]), batch.fix(j)) for j in range(min(limit, len(batch)))]
    t, c = time.perf_counter(), time.process_time()
    for i, f in fixes:
        st[i], _ = evaluate_fix(st[i], f, rulesets[i], now)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"fixes": len(fixes), "wall_s": round(wall, 4), "fixes_per_s": round(len(fixes) / wall),
            "fixes_per_cpu_s": round(len(fixes) / max(cpu, 1e-9))}


def shapely_baseline(ev: BatchEvaluator, batch: FixBatch, limit: int) -> dict:
    """Plain vectorised shapely: contains_xy of every (fix, zone) pair on prepared geometries
    (circles as 32-gons), containment only: no accuracy, hysteresis, movement or events."""
    n = min(limit, len(batch))
    s, lat, lon = batch.subject[:n], batch.lat[:n], batch.lon[:n]
    geoms, frames, pair_fix, pair_geom = [], [], [], []
    index: dict[int, int] = {}
    for i in np.unique(s):
        for cz in ev.rules[i].compiled:
            sh = cz.shape
            if id(sh) not in index:
                index[id(sh)] = len(geoms)
                g = sh.polygon if sh.radius is None else shapely.buffer(shapely.Point(0, 0), sh.radius, quad_segs=8)
                geoms.append(g)
                frames.append((sh.lat0, sh.lon0, sh.kx, sh.ky))
    geoms_arr = np.array(geoms, dtype=object)
    shapely.prepare(geoms_arr)
    frames_arr = np.array(frames)
    for i in np.unique(s):
        js = np.flatnonzero(s == i)
        for cz in ev.rules[i].compiled:
            pair_fix.append(js)
            pair_geom.append(np.full(len(js), index[id(cz.shape)]))
    pf, pg = np.concatenate(pair_fix), np.concatenate(pair_geom)
    t, c = time.perf_counter(), time.process_time()
    f = frames_arr[pg]
    x = (lon[pf] - f[:, 1]) * f[:, 2]
    y = (lat[pf] - f[:, 0]) * f[:, 3]
    inside = shapely.contains_xy(geoms_arr[pg], x, y)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"fixes": n, "pairs": int(len(pf)), "inside_pairs": int(inside.sum()), "wall_s": round(wall, 4),
            "fixes_per_s": round(n / wall), "fixes_per_cpu_s": round(n / max(cpu, 1e-9)),
            "pairs_per_s": round(len(pf) / wall)}


def run(subjects: int, fixes_per_subject: int, batches: int, borough_share: float, curfew_share: float,
        roam_share: float, baseline_fixes: int, seed: int, start: datetime, progress=None, turns: int = 10,
        devices_per_turn: int = 2000, proximity_share: float = 0.1, extras: bool = True,
        pipeline_start: datetime | None = None) -> dict:
    """Build the population, time the batch path over `batches` batches after one warm-up batch
    (every zone starts unknown, so the first batch confirms everything), and the baselines."""
    say = progress or (lambda *a, **k: None)
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    say("population")
    rulesets, homes = population(rng, subjects, borough_share, curfew_share)
    # Enrolled at `start`, which is outside any curfew window: nothing is open yet.
    states = [SubjectState(f"s{i}", curfews_checked_to=start) for i in range(subjects)]
    say("compiling rule sets")
    ev = BatchEvaluator([s.subject_id for s in states], rulesets, states)
    setup = time.perf_counter() - t
    step_s = 15.0
    say("generating fixes")
    data = list(fix_batches(rng, homes, batches + 1, fixes_per_subject, start, step_s, roam_share))
    end = start + timedelta(seconds=step_s * fixes_per_subject * (batches + 1) + 60)
    say("baselines")
    base_scalar = scalar_baseline(rulesets, states, data[0], end, baseline_fixes)
    base_shapely = shapely_baseline(ev, data[0], min(len(data[0]), 1_000_000))
    events: Counter = Counter()
    walls, cpus = [], []
    gc.collect()  # the set-up's garbage is not the engine's
    for n, b in enumerate(data):
        w, c = time.perf_counter(), time.process_time()
        out = ev.evaluate(b, end)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        events.update(e.kind for e in out)
        say("batches", advance=len(b), first=n == 0)
    fixes = sum(len(b) for b in data[1:])
    rate = fixes / sum(walls[1:])
    zones = int((ev.kind >= 0).sum())
    say("shapely bbox baseline")
    base_bbox = rules_pipeline.shapely_bbox(rulesets, [as_turn(b) for b in data[1:]])
    cpu_rate = fixes / sum(cpus[1:])
    per_batch = [len(b) / c for b, c in zip(data[1:], cpus[1:])]
    pipe = rules_pipeline.run(rulesets, homes, np.random.default_rng(seed + 1), pipeline_start or start, turns,
                              devices_per_turn,
                              proximity_share, extras, say)
    load = max(load_start, os.getloadavg()[0])
    return {
        "as_called_by_the_pipeline": pipe,
        "whole_population": {
            "fixes_per_cpu_s": round(cpu_rate), "shapely_bbox_contains_xy": base_bbox,
            "speedup_vs_shapely_bbox_cpu": round(cpu_rate / base_bbox["fixes_per_cpu_s"], 2),
            "slowest_batch_over_median_cpu": round(min(per_batch) / float(np.median(per_batch)), 3),
            "per_batch_fixes_per_cpu_s": [round(x) for x in per_batch]},
        "vector_window_openings": ev.vector_openings,
        "load_warning": load > 1.5,
        "target_pipeline_fixes_per_cpu_s": 5_000_000,
        "meets_pipeline_target": pipe["engine"]["fixes_per_cpu_s"] >= 5_000_000,
        "meets_shapely_target": pipe["speedup_vs_shapely_bbox_cpu"] >= 1.2,
        "meets_batch_floor": min(per_batch) >= float(np.median(per_batch)) / 3
        and pipe["engine"]["slowest_turn_over_median_cpu"] >= 1 / 3,
        "benchmark": "rules",
        "settings": {"subjects": subjects, "fixes_per_subject_per_batch": fixes_per_subject, "batches": batches,
                     "warmup_batches": 1, "fixes_per_batch": len(data[0]), "fix_interval_s": step_s,
                     "borough_share": borough_share, "curfew_share": curfew_share, "roam_share": roam_share,
                     "seed": seed, "start": start.isoformat(),
                     "home_zones": "100 m circles (80 %) or 160 m squares (20 %), margin 10 m, dwell 60 s",
                     "exclusion_zones": "0-5 per person: circles of 100-500 m within 3 km of home (margin 20 m) "
                                        "or shared London boroughs (margin 25 m, dwell 120 s)",
                     "curfew": "19:00-07:00 Europe/London on the home zone", "cores": 1,
                     "clock": "wall time of BatchEvaluator.evaluate only (generation not timed)"},
        "setup_s": round(setup, 2),
        "zones": zones,
        "zones_per_subject": round(zones / subjects, 2),
        "fixes": fixes,
        "wall_s": round(sum(walls[1:]), 4),
        "fixes_per_s": round(rate),
        "fixes_per_cpu_s": round(fixes / sum(cpus[1:])),
        "zone_checks_per_s": round(rate * zones / subjects),
        "per_batch_fixes_per_s": [round(len(b) / w) for b, w in zip(data[1:], walls[1:])],
        "warmup_fixes_per_s": round(len(data[0]) / walls[0]),
        "pairs_classified_one_by_one": ev.pairs,
        "exact_polygon_pairs": ev.exact_pairs,
        "scalar_subject_batches": ev.scalar_runs,
        "events": dict(events),
        "baselines": {"scalar_evaluator": base_scalar, "shapely_contains_xy": base_shapely},
        "speedup_vs_scalar": round(rate / base_scalar["fixes_per_s"], 1),
        "speedup_vs_shapely_contains": round(rate / base_shapely["fixes_per_s"], 2),
        "speedup_vs_shapely_contains_cpu": round(fixes / sum(cpus[1:]) / base_shapely["fixes_per_cpu_s"], 2),
        "load_average_1m": round(load, 2),  # the higher of the start and the end of the run
        "load_average_1m_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }


def as_turn(b: FixBatch) -> rules_pipeline.Turn:
    """A whole-population batch (grouped by subject) in the shape the baseline takes."""
    subs, starts = np.unique(b.subject, return_index=True)
    ends = np.append(starts[1:], len(b))
    n = len(b)
    cols = [FixColumns(np.arange(e - s, dtype=np.int32), b.t_us[s:e] // 1000, b.lat[s:e], b.lon[s:e],
                       b.accuracy_m[s:e].astype(np.float32), np.zeros(e - s, np.uint8),
                       np.full(e - s, np.nan, np.float32)) for s, e in zip(starts.tolist(), ends.tolist())]
    del n
    return rules_pipeline.Turn(subs, cols, datetime.now(UTC), None)


def bench_rules(
    subjects: Annotated[int, typer.Option(min=1, help="people in the synthetic population")] = 50_000,
    fixes_per_subject: Annotated[int, typer.Option(min=1, help="fixes per person per batch (15 s apart)")] = 10,
    batches: Annotated[int, typer.Option(min=1, help="timed batches (after one warm-up batch)")] = 6,
    borough_share: Annotated[float, typer.Option(min=0, max=1, help="share of exclusion zones that are boroughs")] = 0.3,
    curfew_share: Annotated[float, typer.Option(min=0, max=1)] = 0.6,
    roam_share: Annotated[float, typer.Option(min=0, max=1, help="share of people away from home")] = 0.1,
    baseline_fixes: Annotated[int, typer.Option(min=1, help="fixes for the scalar baseline")] = 3000,
    seed: Annotated[int, typer.Option()] = 1,
    start: Annotated[str, typer.Option(help="UTC start of the fixes (ISO 8601)")] = "2027-05-04T09:00:00+00:00",
    pipeline_start: Annotated[str, typer.Option(help="UTC start of the pipeline turns: 16 min before the "
                                                     "19:00 London curfews open, so the turns carry openings")]
    = "2027-05-04T17:44:00+00:00",
    turns: Annotated[int, typer.Option(min=1, help="pipeline turns timed (after one warm-up turn)")] = 10,
    devices_per_turn: Annotated[int, typer.Option(min=1, help="devices' uploads (1-60 fixes) per turn")] = 2000,
    proximity_share: Annotated[float, typer.Option(min=0, max=1, help="people with a proximity rule")] = 0.1,
    extras: Annotated[bool, typer.Option(help="also time the engine without each extra (its cost)")] = True,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the report here")] = None,
) -> None:
    """Rules engine throughput per core: as the pipeline calls it and over the whole population,
    each beside the shapely all-pairs baseline with a bbox prefilter, in the same run."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    try:
        begin = datetime.fromisoformat(start).astimezone(UTC)
        pipe_begin = datetime.fromisoformat(pipeline_start).astimezone(UTC)
    except ValueError:
        raise typer.BadParameter(f"--start/--pipeline-start is not an ISO 8601 time: {start!r}, "
                                 f"{pipeline_start!r}") from None
    err = Console(stderr=True)
    total = subjects * fixes_per_subject * (batches + 1)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        task = bar.add_task("setting up", total=total)

        def say(what, advance=0, first=False):
            bar.update(task, description="warm-up batch" if first else what, advance=advance)

        try:
            r = run(subjects, fixes_per_subject, batches, borough_share, curfew_share, roam_share,
                    baseline_fixes, seed, begin, say, turns, devices_per_turn, proximity_share, extras, pipe_begin)
        except FileNotFoundError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    p, w = r["as_called_by_the_pipeline"], r["whole_population"]
    table = Table(title="custodes bench rules (fixes per CPU-second, one core)")
    for col in ("path", "fixes/CPU-s", "baseline (same fixes)", "baseline fixes/CPU-s", "ratio"):
        table.add_column(col, justify="left" if col.startswith(("path", "baseline (")) else "right")
    table.add_row(f"engine as the pipeline calls it ({devices_per_turn} devices x 1-60 fixes a turn)",
                  f"{p['engine']['fixes_per_cpu_s']:,}", "shapely bbox + contains_xy",
                  f"{p['shapely_bbox_contains_xy']['fixes_per_cpu_s']:,}", f"{p['speedup_vs_shapely_bbox_cpu']}x")
    table.add_row(f"engine, whole population ({subjects:,} people a batch)", f"{w['fixes_per_cpu_s']:,}",
                  "shapely bbox + contains_xy", f"{w['shapely_bbox_contains_xy']['fixes_per_cpu_s']:,}",
                  f"{w['speedup_vs_shapely_bbox_cpu']}x")
    table.add_row("engine as the pipeline calls it, states read back from JSON each turn",
                  f"{p['engine_states_from_json']['fixes_per_cpu_s']:,}", "shapely bbox + contains_xy",
                  f"{p['shapely_bbox_contains_xy']['fixes_per_cpu_s']:,}",
                  f"{p['engine_states_from_json']['fixes_per_cpu_s'] / p['shapely_bbox_contains_xy']['fixes_per_cpu_s']:.2f}x")
    table.add_row("evaluate() one device at a time (the pipeline's call before evaluate_many)",
                  f"{p['one_device_at_a_time']['fixes_per_cpu_s']:,}", "", "", "")
    for name, key in (("shapely contains_xy, all pairs, no prefilter", "shapely_contains_xy"),
                      ("scalar evaluator", "scalar_evaluator")):
        base = r["baselines"][key]
        table.add_row(name, f"{base['fixes_per_cpu_s']:,}", "", "", "")
    err.print(table)
    for name, cost in p.get("extras", {}).items():
        err.print(f"  {name}: {cost['fixes_per_cpu_s']:,} fixes/CPU-s, median turn {cost['median_turn_fixes_per_cpu_s']:,} "
                  f"against {p['engine']['median_turn_fixes_per_cpu_s']:,} with everything: the feature costs "
                  f"{cost['share_of_full_cost_saved']:+.1%} of the engine's time")
    err.print(f"slowest whole-population batch / median: {w['slowest_batch_over_median_cpu']} (floor 0.333); "
              f"windows opened in columns: {r['vector_window_openings']}")
    err.print(f"slowest pipeline turn / median: {p['engine']['slowest_turn_over_median_cpu']} (floor 0.333); "
              f"curfew windows opened during the timed turns: {p['engine']['windows_opened']}")
    err.print(f"load average (1 min): {r['load_average_1m']}")
    err.print(f"targets: pipeline >= 5,000,000 fixes/CPU-s {'met' if r['meets_pipeline_target'] else 'NOT met'}; "
              f">= 1.2x shapely {'met' if r['meets_shapely_target'] else 'NOT met'}; "
              f"batch floor {'met' if r['meets_batch_floor'] else 'NOT met'}")
    if r["load_warning"]:
        err.print(f"[yellow]warning: load average {r['load_average_1m']} > 1.5: wall-clock figures are "
                  f"unreliable (CPU-time figures are reported)[/yellow]")
    text = json.dumps(r, indent=2)
    if json_path is not None:
        json_path.write_text(text)
    print(text)
