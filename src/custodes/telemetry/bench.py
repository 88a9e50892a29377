"""`custodes bench ingest`: end to end through the HTTP API and `custodes worker` processes.

A synthetic London population (100 m home circles, 0-5 exclusion zones of which some are shared
boroughs from ../shared/data/zones, a nightly curfew) uploads pre-built, signed batches from
several client threads; the API stores them, the workers run the pipeline. Throughput is fixes
processed per second from the first upload to the last commit; latency is upload start → the
commit that made the batch's alerts visible. The baseline, measured in the same run, is what one
core does with the same batches in-process (validate + pack + evaluate), with no HTTP or database.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress

from custodes.access import service as access
from custodes.access.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import bootstrap
from custodes.clock import SystemClock
from custodes.config import Settings, data_root
from custodes.db import migrate
from custodes.telemetry import trail
from custodes.telemetry.population import Monitored, enrol

console = Console(stderr=True)
STEP_S = 15  # one fix every 15 s: the rate of a person during a violation
NIGHT_TRIP = 0.03  # chance that a batch holds a night-time trip away from home (a curfew breach)


def _boroughs() -> list[dict]:
    path = data_root() / "zones" / "london_boroughs.geojson"
    if not path.exists():
        raise SystemExit(f"{path} is missing: set CUSTODES_DATA to the shared data folder")
    return [f["geometry"] for f in json.loads(path.read_text())["features"]]


def _population(container, agency, rng, n: int, since: datetime, until: datetime) -> list[Monitored]:
    import shapely

    boroughs = _boroughs()
    shapes = [shapely.geometry.shape(g) for g in boroughs]
    people = []
    for _ in range(n):
        lat, lon = rng.uniform(51.40, 51.60), rng.uniform(-0.30, 0.10)
        zones: list[dict] = []
        for _z in range(int(rng.integers(0, 6))):
            b = int(rng.integers(len(boroughs)))
            if rng.random() < 0.3 and not shapes[b].contains(shapely.Point(lon, lat)):
                zones.append(boroughs[b])  # shared with everyone else who drew this borough
            else:
                dy, dx = rng.uniform(-3000, 3000, 2)
                zones.append({"circle": {"lat": lat + dy / 111_320, "lon": lon + dx / 69_500,
                                         "radius_m": float(rng.uniform(100, 400))}})
        people.append(enrol(container, agency, home=(lat, lon), since=since, until=until, exclusions=zones,
                            curfew=(since.strftime("%Y-%m-%dT19:00:00"), 12 * 60)))
    return people


def _batches(rng, people: list[Monitored], per_device: int, size: int, end: datetime):
    """Bodies in upload order (round robin over devices). Mostly at home; some trips of 1-3 km."""
    from custodes.telemetry.client import encode

    span = timedelta(seconds=STEP_S * size)
    start = end - per_device * span
    out = []
    for k in range(per_device):
        for p in people:
            t0 = start + k * span
            lat = p.home[0] + rng.normal(0, 1e-4, size)
            lon = p.home[1] + rng.normal(0, 1.5e-4, size)
            # Trips of 1-3 km lasting a tenth of the batch: most by day, a few at night (curfew breaches).
            hours = ((t0.hour + np.arange(size) * STEP_S / 3600) % 24)
            for night, p_trip in ((False, 0.3), (True, NIGHT_TRIP)):
                ok = np.flatnonzero(((hours >= 19) | (hours < 7)) == night)[: max(size - size // 10, 1)]
                if len(ok) and rng.random() < p_trip:
                    a, m = int(rng.choice(ok)), size // 10
                    ramp = np.minimum(1.0, np.minimum(np.arange(m), np.arange(m)[::-1]) / 20)  # ~5 min out
                    lat[a:a + m] += rng.uniform(0.01, 0.03) * ramp[: len(lat[a:a + m])]
            acc = np.where(rng.random(size) < 0.95, rng.uniform(4, 15, size), rng.uniform(300, 1500, size)).round(1)
            items = [{"kind": "fix", "time": (t0 + timedelta(seconds=STEP_S * i)).isoformat().replace("+00:00", "Z"),
                      "lat": round(float(lat[i]), 7), "lon": round(float(lon[i]), 7), "accuracy_m": float(acc[i]),
                      "source": "gps" if acc[i] < 100 else "cell"} for i in range(size)]
            out.append((p, k, encode(k, items)))
    return out


def _baseline(work: list, container) -> dict:
    """One core, in-process: validation, packing and rule evaluation of the same batches."""
    from custodes.rules import SubjectState
    from custodes.telemetry import segment
    from custodes.telemetry.pipeline import evaluate
    from custodes.telemetry.ruleset import RuleCache

    from custodes.telemetry.schemas import validate_batch

    cache, now = RuleCache(), datetime.now(UTC)
    with container.uow(Actor.system("bench")) as uow:
        rules = {p.subject_id: cache.get(uow.session, p.subject_id) for p, _, _ in work}
    states: dict = {}
    n, t = 0, time.perf_counter()
    for p, _, body in work:
        vb = validate_batch(body, now=now, not_before=None)
        segment.pack(vb.fixes)
        state = states.get(p.subject_id) or SubjectState(str(p.subject_id))
        states[p.subject_id], _ = evaluate(state, rules[p.subject_id], now, p.device_id, vb.seq, vb.fixes, [])
        n += len(vb.fixes)
    return {"fixes_per_s_one_core_in_process": round(n / (time.perf_counter() - t)), "fixes": n}


def _spawn(args: list[str], env: dict, log: Path, ready: str | None = None) -> subprocess.Popen:
    exe = os.path.join(os.path.dirname(sys.executable), "custodes")
    with open(log, "a") as out:
        proc = subprocess.Popen([exe, *args], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while ready and ready not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{' '.join(args[:1])} did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


def _upload(url: str, work: list, uploaders: int, seconds: float, sent: dict, progress, task,
            rate: float) -> float:
    """Upload from `uploaders` threads until done or `seconds` are up; with `rate` > 0, batch i
    is not sent before i * batch / rate seconds (open loop: latency is measured at that load)."""
    q: queue.Queue = queue.Queue()
    for i, w in enumerate(work):
        q.put((i, w))
    begin = time.monotonic()
    stop_at = begin + seconds
    len_batch = work[0][2].count(b'"kind"') if work else 1

    def run() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop_at:
                try:
                    i, (p, seq, body) = q.get_nowait()
                except queue.Empty:
                    return
                if rate > 0:
                    wait = begin + i * len_batch / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                dev = p.client
                t = time.time()
                r = http.post(dev.path, content=body, headers=dev.http_headers(body, datetime.now(UTC)))
                if r.status_code != 202:
                    raise SystemExit(f"upload refused: {r.status_code} {r.text[:300]}")
                sent[(str(p.device_id), seq)] = (t, r.json()["accepted"])
                progress.advance(task, r.json()["accepted"])

    threads = [threading.Thread(target=run) for _ in range(uploaders)]
    t0 = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.time() - t0


def _run_one(db: str, pg_url: str, people: int, batch: int, seconds: float, uploaders: int, workers: int,
             target_rate: int, rate: float) -> dict:
    if db == "sqlite":
        workers = 0  # one writer: the pipeline runs embedded in `custodes serve`, as deployed on SQLite
    home = Path(tempfile.mkdtemp(prefix=f"custodes-bench-{db}-"))
    schema = f"bench_{secrets.token_hex(4)}"
    if db == "sqlite":
        url = f"sqlite:///{home / 'custodes.db'}"
    else:
        admin = sa.create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{pg_url}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    container = bootstrap(Settings(home=home, database_url=url), SystemClock())
    rng = np.random.default_rng(20271)
    procs: list[subprocess.Popen] = []
    names: list[str] = []
    try:
        with container.uow(Actor.system("bench")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="Bench agency", kind="home_office")).id
            uow.commit()
        now = datetime.now(UTC)
        console.print(f"[{db}] enrolling {people} people")
        pop = _population(container, agency, rng, people, now - timedelta(days=40), now + timedelta(days=300))
        per_device = max(1, int(np.ceil((rate or target_rate) * 1.1 * seconds / batch / people)))
        console.print(f"[{db}] building {per_device * people} batches of {batch} fixes")
        work = _batches(rng, pop, per_device, batch, now - timedelta(minutes=1))
        baseline = _baseline(work[: max(3 * people, len(work) // 10)], container)
        port = 18000 + int(rng.integers(0, 1000))
        env = {**os.environ, "CUSTODES_DATABASE_URL": url, "CUSTODES_HOME": str(home),
               "CUSTODES_PIPELINE": "worker" if workers else "embedded", "CUSTODES_MQTT_GROUP": schema,
               "CUSTODES_TICK_SECONDS": "0"}  # replayed history: ticks at today's time would only cry "silent"
        procs.append(_spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, home / "serve.log",
                            "Application startup complete"))
        for i in range(workers):
            names.append(f"{schema}-w{i}")
            procs.append(_spawn(["worker", "--name", names[-1]], env, home / f"worker{i}.log", "subscription ready"))
        # Warm-up, not measured: each device's first batch, so that every worker has compiled the
        # zones (shared boroughs cost about 0.3 s each, once per process) before the clock starts.
        warm, work = work[:people], work[people:]
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"[{db}] warming up", total=len(warm) * batch)
            _upload(f"http://127.0.0.1:{port}", warm, uploaders, 600, {}, progress, task, 0)
        _drain(container, db, len(warm))
        sent: dict = {}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"[{db}] uploading", total=len(work) * batch)
            upload_s = _upload(f"http://127.0.0.1:{port}", work, uploaders, seconds, sent, progress, task, rate)
        return _measure(container, db, sent, upload_s, baseline, per_device, workers, len(warm))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if names:
            from custodes.telemetry.mqtt import forget_session

            for n in names:
                forget_session(container, n)
        container.close()
        if db != "sqlite":
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def _drain(container, db: str, expected: int) -> None:
    from sqlalchemy import func, select

    from custodes.telemetry.models import TelemetryBatch

    deadline = time.monotonic() + 300
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"[{db}] draining the pipeline", total=expected)
        while True:
            with container.uow(Actor.system("bench")) as uow:
                done = uow.session.scalar(select(func.count()).select_from(TelemetryBatch)
                                          .where(TelemetryBatch.processed_at.is_not(None)))
            progress.update(task, completed=done)
            if done >= expected or time.monotonic() > deadline:
                return
            time.sleep(0.2)


def _measure(container, db, sent, upload_s, baseline, per_device, workers, warm: int) -> dict:
    from sqlalchemy import select

    from custodes.alerts.models import Alert
    from custodes.telemetry.models import TelemetryBatch

    _drain(container, db, warm + len(sent))
    with container.uow(Actor.system("bench")) as uow:
        s = uow.session
        rows = s.execute(select(TelemetryBatch.device_id, TelemetryBatch.seq, TelemetryBatch.processed_at)).all()
        alerts = s.execute(select(Alert.evidence, Alert.kind)).all()
        storage = trail.storage_figures(s)
        raw_bytes = (s.scalar(sa.text("SELECT pg_total_relation_size('telemetry_batches')"))
                     if db == "postgresql" else None)
    done_at = {(str(d), q): p.timestamp() for d, q, p in rows if p is not None}
    lat = np.array([done_at[k] - sent[k][0] for k in sent if k in done_at])
    alert_lat = []
    for evidence, _kind in alerts:  # alerts from ticks have no source batch: not an upload latency
        if evidence.get("source_batch"):
            dev, seq = evidence["source_batch"].rsplit("/", 1)
            if (dev, int(seq)) in done_at and (dev, int(seq)) in sent:
                alert_lat.append(done_at[(dev, int(seq))] - sent[(dev, int(seq))][0])
    alert_lat = np.array(alert_lat)
    fixes = sum(n for _, n in sent.values())
    first = min(t for t, _ in sent.values())
    last = max(done_at.values()) if done_at else float("nan")
    pct = (lambda a, q: round(float(np.percentile(a, q)), 3) if len(a) else None)
    return {
        "database": db, "fixes": fixes, "batches": len(sent), "batches_processed": len(done_at),
        "fixes_per_s_end_to_end": round(fixes / (last - first)) if done_at else 0,
        "fixes_per_s_http_accepted": round(fixes / upload_s),
        "latency_upload_to_processed_s": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": pct(lat, 100)},
        "latency_upload_to_alert_s": {"p50": pct(alert_lat, 50), "p99": pct(alert_lat, 99), "alerts": len(alerts),
                                      "kinds": dict(Counter(k for _, k in alerts).most_common())},
        "trail_storage": storage,
        "raw_batch_bytes_per_fix": round(raw_bytes / fixes, 1) if raw_bytes else None,
        "batches_per_device": per_device, "workers": workers, "baseline": baseline,
    }


def run(*, people: int, batch: int, seconds: float, uploaders: int, workers: int, databases: list[str],
        pg_url: str, rate: float = 0, target_rate: int = 60_000) -> None:
    if not 1 <= batch <= 10_000:
        raise SystemExit("--batch must be between 1 and 10,000")
    settings = {"people": people, "batch": batch, "seconds": seconds, "uploaders": uploaders, "workers": workers,
                "offered_fixes_per_s": rate or "unthrottled",
                "fix_interval_s": STEP_S, "night_trip_share": NIGHT_TRIP, "scheduled_ticks": "off (replayed history)", "cpus": os.cpu_count(), "target_fixes_per_s": 50_000}
    runs = [_run_one(db, pg_url, people, batch, seconds, uploaders, workers, target_rate, rate) for db in databases]
    for r in runs:
        console.print(f"[bold]{r['database']}[/]: {r['fixes_per_s_end_to_end']:,} fixes/s end to end "
                      f"(one core in-process: {r['baseline']['fixes_per_s_one_core_in_process']:,}); "
                      f"p99 upload→alert {r['latency_upload_to_alert_s']['p99']} s; "
                      f"trail {r['trail_storage']['bytes_per_fix']} B/fix")
    print(json.dumps({"bench": "ingest", "settings": settings, "runs": runs}, indent=2, default=str))
