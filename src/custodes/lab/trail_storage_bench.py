"""`custodes bench trail-storage`: bytes per fix of the trail on PostgreSQL before and after compaction.

Realistic traffic (the ingest benchmark's London population: GPS jitter at home, trips, a fix every
15 s, 10-fix messages by default) goes in through the accepted path (`telemetry.service.ingest`:
validation, packing, the raw batch) and the pipeline (trail segments, rules), on a simulated clock
that moves with the data, in two private schemas side by side:

- **baseline**: no compaction, as today;
- **steady**: the runner's compaction tick after every hour of data, and a plain VACUUM (what
  autovacuum does) so freed pages are reused by the next hour's inserts; at the end the clock moves
  past the last settle time and a final pass runs. Its size is what a running system holds.

Then the baseline's trail is compacted in one pass (throughput, fixes/s), measured in place after a
VACUUM, and after VACUUM FULL (the compacted rows alone). Size is table + TOAST + indexes
(`pg_total_relation_size`) over the number of fixes. The 7-day read of one subject's trail (what the
console's 7-day trail page reads from the store) is timed before and after compaction.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import bootstrap
from custodes.clock import FrozenClock
from custodes.config import Settings
from custodes.db import migrate
from custodes.lab.population import enrol
from custodes.lab.workload import STEP_S, batches
from custodes.telemetry import compaction, service, trail
from custodes.telemetry.pipeline import Pipeline

console = Console(stderr=True)
START = datetime(2027, 3, 1, tzinfo=UTC)
DEVICE = Actor(kind="device", id="bench", name=None)
READS = 10


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _size(engine) -> dict:
    with engine.connect() as conn:
        total = int(conn.scalar(sa.text("SELECT pg_total_relation_size('trail_segments')")))
        fixes = int(conn.scalar(sa.text("SELECT coalesce(sum(n), 0) FROM trail_segments")))
        rows = int(conn.scalar(sa.text("SELECT count(*) FROM trail_segments")))
        parts = conn.execute(sa.text(
            "SELECT pg_relation_size(c.oid), coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0), "
            "pg_indexes_size(c.oid) FROM pg_class c WHERE c.oid = 'trail_segments'::regclass")).one()
        # Dead rows a VACUUM could not remove: another session's open snapshot (a shared server) holds them.
        dead = conn.scalar(sa.text("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'trail_segments' "
                                   "AND schemaname = current_schema()"))
    return {"bytes": total, "fixes": fixes, "rows": rows, "bytes_per_fix": round(total / fixes, 2) if fixes else None,
            "heap_bytes": int(parts[0]), "toast_bytes": int(parts[1]), "index_bytes": int(parts[2]),
            "dead_rows_left": dead, "load": _load()}


def _vacuum(engine, full: bool = False) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM {'FULL ' if full else ''}ANALYZE trail_segments"))


def _set(clock: FrozenClock, at: datetime) -> None:
    if at > clock.now():
        clock.advance(at - clock.now())


class Schema:
    """A private schema with the platform migrated into it, a simulated clock, and D monitored people."""

    def __init__(self, pg_url: str, name: str, devices: int, seed: int) -> None:
        self.name = f"bench_trail_{name}_{secrets.token_hex(3)}"
        self.admin = sa.create_engine(pg_url)
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.name}"))
        url = f"{pg_url}?options=-csearch_path%3D{self.name}"
        migrate.upgrade(url)
        self.clock = FrozenClock(START)
        self.c = bootstrap(Settings(home=Path(f"/tmp/custodes-{self.name}"), database_url=url, tick_seconds=0),
                           self.clock)
        with self.c.uow(Actor.system("bench")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="bench agency", kind="home_office"))
            uow.commit()
        rng = np.random.default_rng(seed)
        self.people = [enrol(self.c, agency.id, home=(rng.uniform(51.40, 51.60), rng.uniform(-0.30, 0.10)),
                             since=START - timedelta(days=30), until=START + timedelta(days=300),
                             curfew=(START.strftime("%Y-%m-%dT19:00:00"), 12 * 60)) for _ in range(devices)]
        self.pipeline = Pipeline(self.c)

    def drop(self) -> None:
        self.c.close()
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {self.name} CASCADE"))
        self.admin.dispose()


def _ingest(sch: Schema, size: int, hours: float, seed: int, bar, task, every_hour=None) -> None:
    per_device = int(hours * 3600 // (STEP_S * size))
    span = timedelta(seconds=STEP_S * size)
    out = batches(np.random.default_rng(seed), sch.people, per_device, size, START + per_device * span)
    hour_mark = START + timedelta(hours=1)
    for p, k, body in out:
        _set(sch.clock, START + (k + 1) * span + timedelta(seconds=2))  # uploaded as the batch closes
        service.ingest(sch.c, device_id=p.device_id, body=body, ndjson=False, channel="http", signature="bench",
                       actor=DEVICE)
        bar.advance(task)
        if sch.clock.now() >= hour_mark:  # the pipeline keeps up; compaction ticks as the runner's would
            while sch.pipeline.run_once().batches:
                pass
            if every_hour:
                every_hour()
            hour_mark += timedelta(hours=1)
    while sch.pipeline.run_once().batches:
        pass


def _read_ms(sch: Schema, days: float, hi: datetime) -> dict:
    p = sch.people[0]
    xs, points = [], 0
    for _ in range(READS):
        t = time.perf_counter()
        with sch.c.session_factory() as s:
            points = len(trail.read(s, p.subject_id, hi - timedelta(days=days), hi))
        xs.append(time.perf_counter() - t)
    return {"days": days, "points": points, "p50_ms": round(float(np.percentile(xs, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(xs, 95)) * 1000, 1)}


def run(*, fixes_per_message: int, devices: int, hours: float, pg_url: str, seed: int = 1) -> dict:
    messages = devices * int(hours * 3600 // (STEP_S * fixes_per_message))
    result: dict = {"fixes_per_message": fixes_per_message, "devices": devices, "hours": hours,
                    "fix_interval_s": STEP_S, "messages": messages}
    base = steady = None
    try:
        base, steady = Schema(pg_url, "base", devices, seed), Schema(pg_url, "steady", devices, seed)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            t = bar.add_task("baseline: ingesting (no compaction)", total=messages)
            t0 = time.perf_counter()
            _ingest(base, fixes_per_message, hours, seed, bar, t)
            result["ingest_s"] = round(time.perf_counter() - t0, 1)
            ticks = {"fixes": 0, "seconds": 0.0}

            def tick() -> None:
                t1 = time.perf_counter()
                ticks["fixes"] += compaction.tick(steady.c).fixes
                ticks["seconds"] += time.perf_counter() - t1
                _vacuum(steady.c.engine)

            t = bar.add_task("steady: ingesting, compaction tick every hour", total=messages)
            _ingest(steady, fixes_per_message, hours, seed, bar, t, every_hour=tick)
        _set(steady.clock, steady.clock.now() + timedelta(days=1, hours=3))  # every day settled
        tick()
        result["steady"] = {**_size(steady.c.engine), "tick_fixes_merged": ticks["fixes"],
                            "tick_fixes_per_s": round(ticks["fixes"] / ticks["seconds"]) if ticks["seconds"] else None}

        result["before"] = _size(base.c.engine)
        days, data_end = min(7.0, hours / 24), base.clock.now()
        result["read_before"] = _read_ms(base, days, data_end)
        _set(base.clock, base.clock.now() + timedelta(days=1, hours=3))
        t0 = time.perf_counter()
        done = compaction.run(base.c)
        elapsed = time.perf_counter() - t0
        result["compaction"] = {"fixes": done.fixes, "segments_in": done.segments_in, "segments_out": done.segments_out,
                                "seconds": round(elapsed, 2), "fixes_per_s": round(done.fixes / elapsed),
                                "packed_bytes_in": done.bytes_in, "packed_bytes_out": done.bytes_out, "load": _load()}
        _vacuum(base.c.engine)
        result["after_in_place"] = _size(base.c.engine)
        _vacuum(base.c.engine, full=True)
        result["after_vacuum_full"] = _size(base.c.engine)
        result["read_after"] = _read_ms(base, days, data_end)
    finally:
        for sch in (base, steady):
            if sch is not None:
                sch.drop()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


def report(result: dict, json_path: Path | None) -> None:
    b, a, s, f = result["before"], result["after_in_place"], result["steady"], result["after_vacuum_full"]
    c, rb, ra = result["compaction"], result["read_before"], result["read_after"]
    lines = [
        f"{result['devices']} devices x {result['hours']} h, {result['fixes_per_message']} fixes/message, "
        f"{result['messages']} messages, {b['fixes']} fixes",
        f"baseline (no compaction):        {b['bytes_per_fix']:6.2f} B/fix  ({b['rows']} rows)   load {b['load']}",
        f"compacted, VACUUM (in place):    {a['bytes_per_fix']:6.2f} B/fix  ({a['rows']} rows)   load {a['load']}",
        f"compacted, VACUUM FULL:          {f['bytes_per_fix']:6.2f} B/fix  ({f['rows']} rows)   load {f['load']}",
        f"steady (hourly ticks + VACUUM):  {s['bytes_per_fix']:6.2f} B/fix  ({s['rows']} rows, "
        f"{s['dead_rows_left']} dead rows left)   load {s['load']}",
        f"compaction: {c['fixes']} fixes in {c['seconds']} s = {c['fixes_per_s']} fixes/s (one pass); "
        f"hourly ticks {s['tick_fixes_per_s']} fixes/s   load {c['load']}",
        f"{rb['days']:g}-day trail read ({rb['points']} points): p50 {rb['p50_ms']} / p95 {rb['p95_ms']} ms before, "
        f"p50 {ra['p50_ms']} / p95 {ra['p95_ms']} ms after",
        f"load average {result['load_average']}",
    ]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if max(result["load_average"][:1]) > 1.5:
        console.print("[yellow]warning:[/yellow] load average above 1.5: other jobs share the machine; "
                      "timings are noisy (sizes are not)", highlight=False)
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text)
