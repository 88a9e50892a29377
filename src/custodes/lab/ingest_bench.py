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
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import bootstrap
from custodes.clock import SystemClock
from custodes.config import Settings
from custodes.db import migrate
from custodes.lab import workload
from custodes.lab.broker import PrivateBroker
from custodes.telemetry import trail

console = Console(stderr=True)


def _baseline(work: list, container) -> dict:
    """One core, in-process: validation, packing and rule evaluation of the same batches."""
    from custodes.rules import SubjectState
    from custodes.telemetry import segment
    from custodes.telemetry.evaluation import evaluate
    from custodes.telemetry.ruleset import RuleCache
    from custodes.telemetry.schemas import validate_batch

    cache, now = RuleCache(), container.clock.now()
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


def spawn(args: list[str], env: dict, log: Path, ready: str | None = None) -> subprocess.Popen:
    """`custodes ARGS` with its output in `log`; returns once `ready` shows there (60 s at most)."""
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
            rate: float, mqtt: tuple[str, int] | None = None) -> float:
    """Upload from `uploaders` threads until done or `seconds` are up; with `rate` > 0, batch i
    is not sent before i * batch / rate seconds (open loop: latency is measured at that load).
    With `mqtt` (host, port), each thread is one MQTT connection publishing at QoS 1, as tags do;
    "accepted" is then the broker's PUBACK, and storing is the workers' work."""
    q: queue.Queue = queue.Queue()
    for i, w in enumerate(work):
        q.put((i, w))
    begin = time.monotonic()
    stop_at = begin + seconds
    len_batch = work[0][2].count(b'"kind"') if work else 1

    def due():
        """This thread's next batches, each at its offered time, until the work or the time is up."""
        while time.monotonic() < stop_at:
            try:
                i, item = q.get_nowait()
            except queue.Empty:
                return
            if rate > 0:
                wait = begin + i * len_batch / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            yield item

    def run() -> None:
        if mqtt is not None:
            return run_mqtt()
        with httpx.Client(base_url=url, timeout=60) as http:
            for p, seq, body in due():
                dev = p.client
                t = time.time()
                r = http.post(dev.path, content=body, headers=dev.http_headers(body, datetime.now(UTC)))
                if r.status_code != 202:
                    raise SystemExit(f"upload refused: {r.status_code} {r.text[:300]}")
                sent[(str(p.device_id), seq)] = (t, r.json()["accepted"], time.time())
                progress.advance(task, r.json()["accepted"])

    def run_mqtt() -> None:
        from custodes.lab.field.platform import MqttSender

        sender = MqttSender(*mqtt)
        try:
            for p, seq, body in due():
                t = time.time()
                sender.upload(p.client, body, datetime.now(UTC))  # returns at the broker's PUBACK
                sent[(str(p.device_id), seq)] = (t, len_batch, time.time())
                progress.advance(task, len_batch)
        finally:
            sender.close()

    threads = [threading.Thread(target=run) for _ in range(uploaders)]
    t0 = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.time() - t0


def _run_one(db: str, pg_url: str, people: int, batch: int, seconds: float, uploaders: int, workers: int,
             target_rate: int, rate: float, via: str = "http", burst: bool = False) -> dict:
    """With `burst`, every device sends one buffered batch at once after the warm-up (a reconnect
    after an outage), as fast as the clients can: `drained_s` is the time to process them all."""
    if via == "mqtt" and (db == "sqlite" or workers < 1):
        raise SystemExit("--via mqtt measures the workers' shared subscription: use --databases postgresql "
                         "and --workers 1 or more")
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
    private = PrivateBroker() if via == "mqtt" else None  # not stock Mosquitto's 1,000-message queue
    mqtt = {"mqtt_host": "127.0.0.1", "mqtt_port": private.port} if private else {}
    container = bootstrap(Settings(home=home, database_url=url, **mqtt), SystemClock())
    rng = np.random.default_rng(20271)
    procs: list[subprocess.Popen] = []
    names: list[str] = []
    try:
        with container.uow(Actor.system("bench")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="Bench agency", kind="home_office")).id
            uow.commit()
        now = datetime.now(UTC)
        console.print(f"[{db}] enrolling {people} people")
        pop = workload.population(container, agency, rng, people, now - timedelta(days=40), now + timedelta(days=300))
        per_device = 2 if burst else max(1, int(np.ceil((rate or target_rate) * 1.1 * seconds / batch / people)))
        console.print(f"[{db}] building {per_device * people} batches of {batch} fixes")
        work = workload.batches(rng, pop, per_device, batch, now - timedelta(minutes=1))
        baseline = _baseline(work[: max(3 * people, len(work) // 10)], container)
        port = 18000 + int(rng.integers(0, 1000))
        env = {**os.environ, "CUSTODES_DATABASE_URL": url, "CUSTODES_HOME": str(home),
               "CUSTODES_PIPELINE": "worker" if workers else "embedded", "CUSTODES_MQTT_GROUP": schema,
               "CUSTODES_TICK_SECONDS": "0",  # replayed history: ticks at today's time would only cry "silent"
               **{f"CUSTODES_{k.upper()}": str(v) for k, v in mqtt.items()}}
        procs.append(spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, home / "serve.log",
                            "Application startup complete"))
        for i in range(workers):
            names.append(f"{schema}-w{i}")
            procs.append(spawn(["worker", "--name", names[-1]], env, home / f"worker{i}.log", "rules warm"))
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
            broker = (container.settings.mqtt_host, container.settings.mqtt_port) if via == "mqtt" else None
            upload_s = _upload(f"http://127.0.0.1:{port}", work, uploaders, seconds, sent, progress, task, rate,
                               broker)
        figures = _measure(container, db, sent, upload_s, baseline, per_device, workers, len(warm))
        if private is not None:
            figures["broker"] = {"private": True, "max_queued_messages": "unlimited", "logged_drops": private.dropped()}
        return {"via": via, **figures}
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
        if private is not None:
            private.close()
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
    fixes = sum(v[1] for v in sent.values())
    first = min(v[0] for v in sent.values())
    acc_lat = np.array([v[2] - v[0] for v in sent.values()])
    # Only the measured uploads count (not the warm-up), and only those that were processed: a batch
    # the broker acknowledged but no worker ever stored is reported as not processed, not as speed.
    done = [k for k in sent if k in done_at]
    fixes_done = sum(sent[k][1] for k in done)
    last = max(done_at[k] for k in done) if done else float("nan")
    pct = (lambda a, q: round(float(np.percentile(a, q)), 3) if len(a) else None)
    return {
        "database": db, "fixes": fixes, "batches": len(sent), "batches_processed": len(done),
        "batches_not_processed_within_bound": len(sent) - len(done),
        "fixes_per_s_end_to_end": round(fixes_done / (last - first)) if done else 0,
        "fixes_per_s_http_accepted": round(fixes / upload_s),
        "messages_per_s_end_to_end": round(len(done) / (last - first)) if done else 0,
        "messages_per_s_accepted": round(len(sent) / upload_s),
        "drained_s": round(last - first, 2) if done else None,  # first upload to the last batch processed
        "latency_upload_to_202_s": {"p50": pct(acc_lat, 50), "p99": pct(acc_lat, 99)},
        "latency_upload_to_processed_s": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": pct(lat, 100)},
        "latency_upload_to_alert_s": {"p50": pct(alert_lat, 50), "p99": pct(alert_lat, 99), "alerts": len(alerts),
                                      "kinds": dict(Counter(k for _, k in alerts).most_common())},
        "trail_storage": storage,
        "raw_batch_bytes_per_fix": round(raw_bytes / fixes, 1) if raw_bytes else None,
        "batches_per_device": per_device, "workers": workers, "baseline": baseline,
    }


def run(*, people: int, batch: int, seconds: float, uploaders: int, workers: int, databases: list[str],
        pg_url: str, rate: float = 0, target_rate: int = 60_000, via: str = "http", burst: bool = False,
        json_path: Path | None = None) -> None:
    if via not in ("http", "mqtt"):
        raise SystemExit("--via must be http or mqtt")
    load_before = os.getloadavg()
    if not 1 <= batch <= 10_000:
        raise SystemExit("--batch must be between 1 and 10,000")
    settings = {"people": people, "batch": batch, "seconds": seconds, "uploaders": uploaders, "workers": workers,
                "offered_fixes_per_s": rate or "unthrottled",
                "fix_interval_s": workload.STEP_S, "night_trip_share": workload.NIGHT_TRIP, "scheduled_ticks": "off (replayed history)", "cpus": os.cpu_count(), "target_fixes_per_s": 50_000}
    if burst:
        rate, seconds = 0, max(seconds, 600)  # the whole burst goes out, bounded by time all the same
    runs = [_run_one(db, pg_url, people, batch, seconds, uploaders, workers, target_rate, rate, via, burst)
            for db in databases]
    settings["via"], settings["burst"] = via, burst
    settings["load_average_1m"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}
    if max(load_before[0], os.getloadavg()[0]) > 1.5:
        console.print(f"[yellow]warning: load average above 1.5 ({settings['load_average_1m']}): "
                      "other work shares these cores, figures are low[/]")
    for r in runs:
        if r["batches_not_processed_within_bound"]:
            console.print(f"[red]{r['batches_not_processed_within_bound']:,} of {r['batches']:,} accepted batches were "
                          "not processed within the drain bound (a backlog, or messages the broker dropped)[/]")
        console.print(f"[bold]{r['database']}[/]: {r['messages_per_s_end_to_end']:,} messages/s end to end "
                      f"({r['messages_per_s_accepted']:,} accepted); "
                      + (f"burst of {r['batches']:,} drained in {r['drained_s']} s; " if burst else "")
                      + f"{r['fixes_per_s_end_to_end']:,} fixes/s end to end "
                      f"(one core in-process: {r['baseline']['fixes_per_s_one_core_in_process']:,}); "
                      f"p99 upload→alert {r['latency_upload_to_alert_s']['p99']} s; "
                      f"trail {r['trail_storage']['bytes_per_fix']} B/fix")
    out = json.dumps({"bench": "ingest", "settings": settings, "runs": runs}, indent=2, default=str)
    print(out)
    if json_path is not None:
        json_path.write_text(out + "\n")
