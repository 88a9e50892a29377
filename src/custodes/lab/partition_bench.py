"""`custodes bench partitions`: a trail partitioned by day on PostgreSQL (native declarative
partitions) against the same rows in one table: ingest rows/s, and the cost of deleting the oldest
day (DETACH + DROP of its partition, against DELETE ... WHERE t < day). Private schema, dropped after."""

from __future__ import annotations

import io
import json
import os
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import Progress

console = Console(stderr=True)
COLUMNS = "device_id uuid NOT NULL, t timestamptz NOT NULL, lat double precision, lon double precision, accuracy_m real"


def _rows(day: datetime, devices: list[uuid.UUID], per_device: int) -> bytes:
    step = 86400 / per_device
    out = io.StringIO()
    for d in devices:
        for k in range(per_device):
            out.write(f"{d}\t{(day + timedelta(seconds=k * step)).isoformat()}\t51.5\t-0.1\t8\n")
    return out.getvalue().encode()


def _copy(conn: psycopg.Connection, table: str, data: bytes) -> float:
    t0 = time.perf_counter()
    with conn.cursor() as cur, cur.copy(f"COPY {table} (device_id, t, lat, lon, accuracy_m) FROM STDIN") as cp:
        cp.write(data)
    conn.commit()
    return time.perf_counter() - t0


def run(*, pg_url: str, days: int, devices: int, per_device: int, json_path: Path | None) -> dict:
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"partbench_{secrets.token_hex(4)}"
    ids = [uuid.uuid4() for _ in range(devices)]
    start = datetime(2027, 1, 1, tzinfo=UTC)
    load0 = os.getloadavg()[0]
    result: dict = {"days": days, "devices": devices, "rows_per_day": devices * per_device}
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(f"CREATE TABLE trail_part ({COLUMNS}) PARTITION BY RANGE (t)")
        conn.execute(f"CREATE TABLE trail_flat ({COLUMNS})")
        for i in range(days):
            a, b = start + timedelta(days=i), start + timedelta(days=i + 1)
            conn.execute(f"CREATE TABLE trail_part_{i} PARTITION OF trail_part FOR VALUES FROM ('{a.isoformat()}') "
                         f"TO ('{b.isoformat()}')")
        for table in ("trail_part", "trail_flat"):
            conn.execute(f"CREATE INDEX ON {table} (device_id, t)")
        conn.commit()
        try:
            copy_s = {"trail_part": 0.0, "trail_flat": 0.0}
            with Progress(console=console) as progress:
                task = progress.add_task("ingesting days", total=days)
                for i in range(days):
                    data = _rows(start + timedelta(days=i), ids, per_device)
                    for table in copy_s:  # the same rows into both, alternately, so load hits both alike
                        copy_s[table] += _copy(conn, table, data)
                    progress.advance(task)
            rows = days * devices * per_device
            result["ingest_rows_per_s"] = {k: round(rows / v) for k, v in copy_s.items()}
            cut = (start + timedelta(days=1)).isoformat()
            t0 = time.perf_counter()
            conn.execute("ALTER TABLE trail_part DETACH PARTITION trail_part_0")
            conn.execute("DROP TABLE trail_part_0")
            conn.commit()
            result["delete_oldest_day_s"] = {"detach_drop_partition": round(time.perf_counter() - t0, 4)}
            t0 = time.perf_counter()
            deleted = conn.execute(f"DELETE FROM trail_flat WHERE t < '{cut}'").rowcount
            conn.commit()
            result["delete_oldest_day_s"]["delete_where_flat"] = round(time.perf_counter() - t0, 4)
            result["deleted_rows"] = deleted
            conn.autocommit = True  # VACUUM runs outside a transaction
            t0 = time.perf_counter()
            conn.execute("VACUUM trail_flat")
            result["vacuum_flat_after_delete_s"] = round(time.perf_counter() - t0, 4)
        finally:
            conn.autocommit = True
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    result["load_average_1m"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    if max(result["load_average_1m"]) > 1.5:
        console.print(f"[yellow]warning: load average {result['load_average_1m']} on this machine[/yellow]")
    console.print(json.dumps(result, indent=2))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    return result
