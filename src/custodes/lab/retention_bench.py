"""`custodes bench retention`: delete six years of one subject's trail while other devices ingest.

One subject's trail of one fix a minute for six years (about 3.2 million fixes) is bulk-inserted
as packed segments, as the pipeline would have stored them; other devices keep uploading through
the ingest service (signed bodies, stored as raw batches) while the pipeline moves their fixes
into the same trail table. We measure ingestion latency before and during the deletion, and how
long each deleting transaction held its rows: the only deletion work ingestion could ever wait on.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import Container, bootstrap
from custodes.clock import SystemClock
from custodes.config import RETENTION_GRACE_DAYS, Settings
from custodes.db import migrate
from custodes.devices.signing import signature
from custodes.lab.device_client import encode, fix
from custodes.lab.population import Monitored, enrol
from custodes.retention import scheduled
from custodes.retention.policy import DataClass
from custodes.telemetry import segment, service
from custodes.telemetry.models import TrailSegment
from custodes.telemetry.pipeline import Pipeline
from custodes.telemetry.schemas import FixColumns

console = Console(stderr=True)
FIXES_PER_YEAR = 365 * 24 * 60
WARM_UP_S = 5.0


def bulk_trail(container: Container, subject_id: uuid.UUID, device_id: uuid.UUID, *, start: datetime,
               fixes: int, per_segment: int = 60, on_rows=None) -> int:
    """One fix a minute from `start`, packed `per_segment` to a row; returns the rows written."""
    rng = np.random.default_rng(7)
    t0 = int(start.timestamp() * 1000)
    rows: list[dict] = []
    written = 0

    def flush() -> None:
        nonlocal written
        with container.engine.begin() as conn:
            conn.execute(sa.insert(TrailSegment), rows)
        written += len(rows)
        if on_rows:
            on_rows(len(rows))
        rows.clear()

    for s in range(0, fixes, per_segment):
        n = min(per_segment, fixes - s)
        t = t0 + (s + np.arange(n, dtype=np.int64)) * 60_000
        cols = FixColumns(index=np.arange(n, dtype=np.int32), t_ms=t, lat=51.5 + rng.normal(0, 1e-3, n),
                          lon=-0.12 + rng.normal(0, 1e-3, n), accuracy_m=np.full(n, 8.0, np.float32),
                          source=np.zeros(n, np.uint8), speed_mps=np.full(n, np.nan, np.float32))
        rows.append({"subject_id": subject_id, "device_id": device_id, "batch_seq": s // per_segment,
                     "t_start": datetime.fromtimestamp(int(t[0]) / 1000, UTC),
                     "t_end": datetime.fromtimestamp(int(t[-1]) / 1000, UTC), "n": n, "data": segment.pack(cols)})
        if len(rows) >= 2000:
            flush()
    if rows:
        flush()
    return written


@dataclass
class IngestLoad:
    """Devices uploading small signed batches at a steady rate, and a pipeline turning them into trail."""

    container: Container
    people: list[Monitored]
    batches_per_s: float = 20.0
    fixes_per_batch: int = 10
    ingest: list[tuple[float, float]] = field(default_factory=list)  # (start, latency s)
    pipeline: list[tuple[float, float, int]] = field(default_factory=list)  # (start, latency s, batches)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._seq = {p.device_id: 0 for p in self.people}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        per_thread = max(1, len(self.people) // 4)
        for i in range(0, len(self.people), per_thread):
            self._threads.append(threading.Thread(target=self._upload, args=(self.people[i:i + per_thread],),
                                                  daemon=True))
        self._threads.append(threading.Thread(target=self._process, daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _upload(self, people: list[Monitored]) -> None:
        interval = len(self.people) / (self.batches_per_s * len(people))  # this thread's share of the rate
        nxt = time.monotonic()
        while not self._stop.is_set():
            for p in people:
                self._seq[p.device_id] += 1
                now = datetime.now(UTC)
                items = [fix(now - timedelta(seconds=self.fixes_per_batch - i), p.home[0], p.home[1], 6.0)
                         for i in range(self.fixes_per_batch)]
                body = encode(self._seq[p.device_id], items)
                sig = signature(p.secret, "POST", p.client.path, int(now.timestamp()), secrets.token_hex(8), body)
                t = time.perf_counter()
                try:
                    service.ingest(self.container, device_id=p.device_id, body=body, ndjson=False, channel="http",
                                   signature=sig, actor=Actor(kind="device", id=str(p.device_id), name=None))
                except Exception as exc:  # noqa: BLE001  (a bench reports failures, it does not stop on them)
                    self.errors.append(repr(exc))
                self.ingest.append((time.monotonic(), time.perf_counter() - t))
                nxt += interval
                time.sleep(max(0.0, nxt - time.monotonic()))

    def _process(self) -> None:
        pipe = Pipeline(self.container)
        while not self._stop.is_set():
            t = time.perf_counter()
            turn = pipe.run_once()
            n = getattr(turn, "batches", 0)
            if n:
                self.pipeline.append((time.monotonic(), time.perf_counter() - t, n))
            else:
                time.sleep(0.02)


def _p(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)) * 1000, 2) if xs else None


def run(*, pg_url: str, years: float, per_segment: int, devices: int, baseline_s: float, batch_size: int,
        rate: float) -> dict:
    schema = f"bench_retention_{secrets.token_hex(4)}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    home = Path(f"/tmp/custodes-bench-retention-{schema}")
    try:
        migrate.upgrade(url)
        grace = {**RETENTION_GRACE_DAYS, "trail": 0}
        container = bootstrap(Settings(home=home, database_url=url, retention_grace_days=grace), SystemClock())
        now = container.clock.now()
        with container.uow(Actor.system("bench")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="bench agency", kind="home_office"))
            uow.commit()
        start = now - timedelta(days=365 * years)
        # The subject's order ended yesterday: with a grace of 0 days the whole trail is due.
        target = enrol(container, agency.id, home=(51.5, -0.12), since=start, until=now - timedelta(days=1),
                       curfew=None)
        others = [enrol(container, agency.id, home=(51.5 + i * 1e-3, -0.13), since=now - timedelta(days=30),
                        until=now + timedelta(days=300), curfew=None) for i in range(devices)]
        fixes = int(years * FIXES_PER_YEAR)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("bulk-inserting trail segments", total=-(-fixes // per_segment))
            t = time.perf_counter()
            rows = bulk_trail(container, target.subject_id, target.device_id, start=start, fixes=fixes,
                              per_segment=per_segment, on_rows=lambda n: bar.advance(task, n))
            insert_s = time.perf_counter() - t
        with container.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE trail_segments"))
            size = conn.scalar(sa.text("SELECT pg_total_relation_size('trail_segments')"))
        load = IngestLoad(container, others, batches_per_s=rate)
        load.start()
        time.sleep(WARM_UP_S)  # first uploads and pipeline turns load caches and rule sets: not the baseline
        warm = time.monotonic()
        console.print(f"ingesting for {baseline_s:.0f} s before the deletion (baseline)")
        time.sleep(baseline_s)
        due = [d for d in scheduled.due_now(container) if d.data_class is DataClass.TRAIL]
        assert len(due) == 1 and due[0].subject_id == target.subject_id and due[0].records == fixes, due
        batch_times: list[float] = []
        last = [time.perf_counter()]

        def tick(_item, n):
            t2 = time.perf_counter()
            batch_times.append(t2 - last[0])
            last[0] = t2
            bar.advance(task, n)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("deleting the trail while ingesting", total=fixes)
            d0 = time.monotonic()
            t = last[0] = time.perf_counter()
            receipt, deleted = scheduled.delete_class(container, due[0], policy=scheduled.policy_of(container),
                                                      run_id=uuid.uuid4(), batch_size=batch_size, on_progress=tick)
            delete_s = time.perf_counter() - t
            d1 = time.monotonic()
        time.sleep(min(5.0, baseline_s / 3))  # a short tail after, to see recovery
        load.stop()
        base = [lat for at, lat in load.ingest if warm <= at < d0]
        during = [lat for at, lat in load.ingest if d0 <= at <= d1]
        pipe_base = [lat for at, lat, _ in load.pipeline if warm <= at < d0]
        pipe_during = [lat for at, lat, _ in load.pipeline if d0 <= at <= d1]
        with container.engine.connect() as conn:
            left = conn.scalar(sa.select(sa.func.count()).select_from(TrailSegment)
                               .where(TrailSegment.subject_id == target.subject_id))
        p99_base, p99_during = _p(base, 99), _p(during, 99)
        longest = max(batch_times) if batch_times else 0.0
        out = {
            "database": "postgresql", "years": years, "fixes": fixes, "segments": rows,
            "fixes_per_segment": per_segment,
            "trail_table_bytes_before": size, "bulk_insert_s": round(insert_s, 1),
            "deleted_fixes": deleted, "segments_left": left, "receipt": str(receipt),
            "delete_s": round(delete_s, 2), "delete_batch_rows": batch_size, "delete_transactions": len(batch_times),
            "longest_delete_transaction_ms": round(longest * 1000, 1),
            "mean_delete_transaction_ms": round(float(np.mean(batch_times)) * 1000, 2) if batch_times else None,
            "ingest_devices": devices, "ingest_batches_per_s": rate,
            "ingest_uploads_baseline": len(base), "ingest_uploads_during_delete": len(during),
            "ingest_p50_ms_baseline": _p(base, 50), "ingest_p99_ms_baseline": p99_base,
            "ingest_p50_ms_during_delete": _p(during, 50), "ingest_p99_ms_during_delete": p99_during,
            "pipeline_turn_p99_ms_baseline": _p(pipe_base, 99),
            "pipeline_turn_p99_ms_during_delete": _p(pipe_during, 99),
            "pipeline_turns_during_delete": len(pipe_during), "ingest_errors": load.errors[:5],
            "target_longest_delete_transaction_under_1s": longest < 1.0,
            "target_ingest_p99_at_most_twice_baseline": (p99_base is not None and p99_during is not None
                                                         and p99_during <= 2 * p99_base),
        }
        container.close()
        return out
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
