"""`custodes bench load`: realistic device traffic against a platform already running on this machine.

It enrols D people in the platform's database (the lab's population, as the other benchmarks do:
run it with the platform's CUSTODES_DATABASE_URL and CUSTODES_HOME, whose device key signs), then
sends their tags' signed uploads (`load_traffic`) over HTTP or MQTT QoS 1 for S seconds at R
uploads/s, open loop, and stops. Accepted is the 202 (HTTP) or the broker's PUBACK (MQTT); stored
is the raw batch's row (`received_at`), processed its `processed_at`, and an alert's time its
`raised_at`, all read from the database afterwards and set by the platform's own clock (which
must be real time). CPU and memory are sampled from /proc for the processes found
(`platform_processes`).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from custodes.access import service as access
from custodes.access.models import AgencyCreate
from custodes.actor import Actor
from custodes.bootstrap import Container
from custodes.lab import platform_processes as procs
from custodes.lab.device_client import encode, fix
from custodes.lab.field.platform import MqttSender
from custodes.lab.load_traffic import EXCLUSION_RADIUS_M, Schedule, exclusion_of
from custodes.lab.population import enrol_many

LOOPBACK = ("127.0.0.1", "localhost", "::1")
COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


class LoadRefused(RuntimeError):
    """The bench will not run as asked; the text is one readable line."""


def check_local(url: str, mqtt_host: str) -> None:
    host = urlparse(url).hostname or ""
    for what, h in (("--url", host), ("--mqtt-host", mqtt_host)):
        if h not in LOOPBACK:
            raise LoadRefused(f"{what} {h!r} is not this machine: bench load drives only a platform on 127.0.0.1")


def enrol(container: Container, n: int, seed: int, progress: Progress) -> list:
    rng = np.random.default_rng(seed)
    now = container.clock.now()
    with container.uow(Actor.system("bench load")) as uow:
        agency = access.create_agency(uow=uow, data=AgencyCreate(
            name=f"Load bench {now:%Y-%m-%d %H:%M:%S} {uuid.uuid4().hex[:4]}", kind="home_office")).id
        uow.commit()
    people = []
    for _ in range(n):
        home = (float(rng.uniform(51.40, 51.60)), float(rng.uniform(-0.30, 0.10)))
        lat, lon = exclusion_of(home)
        people.append({"home": home, "since": now - timedelta(days=2), "until": now + timedelta(days=60),
                       "exclusions": [{"circle": {"lat": lat, "lon": lon, "radius_m": EXCLUSION_RADIUS_M}}],
                       "curfew": (f"{(now - timedelta(days=2)):%Y-%m-%d}T19:00:00", 12 * 60)})
    task = progress.add_task(f"enrolling {n} people", total=n)
    return enrol_many(container, agency, people, chunk=100, on_chunk=lambda k: progress.advance(task, k))


def probe(container: Container, url: str, person, at: float) -> None:
    """One upload over HTTP, processed: the platform shares our database and device key, and some
    pipeline (a worker, or the server's own) runs. Its seq 0 is below every tag's first upload."""
    client = person.client
    body = encode(0, [fix(datetime.fromtimestamp(at, UTC), *person.home, 8.0)])
    try:
        r = httpx.post(url.rstrip("/") + client.path, content=body,
                       headers=client.http_headers(body, datetime.now(UTC)), timeout=30)
    except httpx.HTTPError as exc:
        raise LoadRefused(f"no platform answers at {url}: {exc}") from None
    if r.status_code != 202:
        raise LoadRefused(f"the platform at {url} refused a device just enrolled ({r.status_code}): run bench load "
                          "with the platform's CUSTODES_DATABASE_URL and CUSTODES_HOME")
    from custodes.telemetry.models import TelemetryBatch

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with container.uow(Actor.system("bench load")) as uow:
            if uow.session.scalar(sa.select(TelemetryBatch.processed_at).where(
                    TelemetryBatch.device_id == person.device_id, TelemetryBatch.seq == 0)):
                return
        time.sleep(0.2)
    raise LoadRefused("an accepted upload was not processed within 60 s: is a `custodes worker` running "
                      "(or `custodes serve` with CUSTODES_PIPELINE=embedded)?")


def send(schedule: Schedule, via: str, url: str, mqtt: tuple[str, int], senders: int, progress: Progress,
         max_messages: int) -> tuple[dict, Counter, dict]:
    """Open loop: each upload is handed to a sender at its due time; `sent[(device, seq)]` =
    (start, fixes, accepted at). Stops at the run's end or after `max_messages`."""
    work: queue.Queue = queue.Queue(maxsize=10_000)
    sent: dict = {}
    errors: Counter = Counter()
    lag: list[float] = []
    lock = threading.Lock()
    task = progress.add_task(f"uploading over {via} for {schedule.seconds:g} s", total=schedule.planned())

    def note(kind: str) -> None:
        with lock:
            errors[kind] += 1

    def http_sender() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while (item := work.get()) is not None:
                tag, seq, body, fixes = item
                c, t = tag.person.client, time.time()
                try:
                    r = http.post(c.path, content=body, headers=c.http_headers(body, datetime.now(UTC)))
                except httpx.HTTPError as exc:
                    note(f"http {type(exc).__name__}")
                    continue
                if r.status_code == 202:
                    sent[(tag.person.device_id, seq)] = (t, fixes, time.time())
                else:
                    note(f"http {r.status_code}")
                progress.advance(task)

    def mqtt_sender() -> None:
        try:
            sender = MqttSender(*mqtt)
        except OSError as exc:
            note(f"mqtt connect {type(exc).__name__}")
            while work.get() is not None:
                pass
            return
        try:
            while (item := work.get()) is not None:
                tag, seq, body, fixes = item
                t = time.time()
                try:
                    sender.upload(tag.person.client, body, datetime.now(UTC))  # returns at the PUBACK
                    sent[(tag.person.device_id, seq)] = (t, fixes, time.time())
                except Exception as exc:  # counted by kind; the run goes on
                    note(f"mqtt {type(exc).__name__}: {str(exc)[:60]}")
                progress.advance(task)
        finally:
            sender.close()

    threads = [threading.Thread(target=http_sender if via == "http" else mqtt_sender, daemon=True)
               for _ in range(senders)]
    for th in threads:
        th.start()
    end = schedule.t0 + schedule.seconds
    offered = 0
    while offered < max_messages:
        at, tag, body = schedule.due()
        if at >= end:
            break
        if (wait := at - time.time()) > 0:
            time.sleep(wait)
        lag.append(time.time() - at)
        if body is None:  # out of coverage: the tag keeps its fixes for later
            continue
        work.put((tag, tag.seq, body, body.count(b'"kind":"fix"')))
        offered += 1
    for _ in threads:
        work.put(None)
    for th in threads:
        th.join(60)
    lags = np.array(lag) if lag else np.zeros(1)
    return sent, errors, {"offered": offered, "send_s": round(time.time() - schedule.t0, 2),
                          "schedule_lag_p99_s": round(float(np.percentile(lags, 99)), 3)}


BENCH_APP = "custodes-bench-load"  # the bench's own database connections, left out of PostgreSQL's figure


def bench_database_url(platform_url: str) -> str:
    """The platform's database URL with the bench's application_name, so its connections can be told apart."""
    if not platform_url.startswith("postgresql"):
        return platform_url
    return make_url(platform_url).update_query_dict({"application_name": BENCH_APP}).render_as_string(
        hide_password=False)


def run(*, container: Container, platform_db_url: str, url: str, devices: int, rate: float, via: str, seconds: float,
        mqtt_host: str = "127.0.0.1", mqtt_port: int = 1883, senders: int = 0, breach_share: float = 0.1,
        gap_share: float = 0.1, drain_s: float = 120.0, seed: int = 1, json_path: Path | None = None,
        console: Console | None = None) -> dict:
    from custodes.lab import load_report

    console = console or Console(stderr=True)
    check_local(url, mqtt_host)
    if via not in ("http", "mqtt"):
        raise LoadRefused("--via must be http or mqtt")
    try:
        health = httpx.get(url.rstrip("/") + "/healthz", timeout=10).raise_for_status().json()
    except httpx.HTTPError:
        raise LoadRefused(f"no platform answers at {url}: start `custodes serve` (and `custodes worker`) first") from None
    if float(health.get("clock_speed", 1.0)) != 1.0:
        raise LoadRefused("the platform runs on simulated time (--speed): latencies need real time")
    load_before = os.getloadavg()[0]
    api_port = urlparse(url).port or 80
    db_url = platform_db_url
    groups = {"api": procs.listening_pids(api_port), "broker": procs.listening_pids(mqtt_port),
              "workers": procs.worker_pids(db_url)}
    refresh = {"workers": lambda: procs.worker_pids(db_url)}
    if db_url.startswith("postgresql"):
        groups["postgres backends"] = []
        refresh["postgres backends"] = lambda: _backends(container)
    with Progress(*COLUMNS, console=console) as progress:
        people = enrol(container, devices, seed, progress)
        schedule = Schedule(people, rate, seconds, time.time(), breach_share=breach_share, gap_share=gap_share,
                            seed=seed)
        probe(container, url, people[0], schedule.d0 - 600)
        sampler = procs.Sampler(groups, refresh).start()
        schedule.start(time.time())
        max_messages = int(rate * seconds * 1.5) + devices  # bounded in count, whatever the schedule says
        sent, errors, run_info = send(schedule, via, url, (mqtt_host, mqtt_port),
                                      senders or (8 if via == "http" else 4), progress, max_messages)
        waited = load_report.drain(container, sent, [p.device_id for p in people], drain_s, progress)
        processes = sampler.stop()
    planted = {t.person.device_id for t in schedule.tags if t.breach_sent}
    load_after = os.getloadavg()[0]
    out = {"bench": "load",
           "settings": {"url": url, "via": via, "devices": devices, "rate": rate, "seconds": seconds, "seed": seed,
                        "mqtt": f"{mqtt_host}:{mqtt_port}" if via == "mqtt" else None,
                        "database": platform_db_url.split("@")[-1],
                        "time_compression": round(schedule.k, 2), "natural_uploads_per_s": round(schedule.natural_rate, 2),
                        "breach_share": breach_share, "coverage_gap_share": gap_share, "drain_bound_s": drain_s,
                        "cpus": os.cpu_count(),
                        "load_average_1m": {"before": round(load_before, 2), "after": round(load_after, 2)}},
           "run": {**run_info, "drain_s": waited},
           "figures": load_report.figures(container, sent, errors, people, planted, run_info["send_s"]),
           "processes": processes}
    load_report.print_summary(console, out)
    if max(load_before, load_after) > 1.5:
        console.print(f"[yellow]warning: load average above 1.5 ({load_before:.2f} before, {load_after:.2f} after): "
                      "other work shares these cores, the figures are lower than this machine can do[/]")
    if not groups["workers"] and not processes.get("workers", {}).get("pids"):
        console.print("[yellow]no `custodes worker` process of this database was found: the pipeline's CPU is "
                      "in the API's figure (embedded) or not counted[/]")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


def _backends(container: Container) -> list[int]:
    """PostgreSQL backends serving the platform's database (other than this query's own)."""
    with container.uow(Actor.system("bench load")) as uow:
        return list(uow.session.scalars(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND application_name IS DISTINCT FROM :me"), {"me": BENCH_APP}))
