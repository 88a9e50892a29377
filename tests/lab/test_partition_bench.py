"""`custodes bench partitions` measures what it says on real PostgreSQL and leaves nothing behind."""

from __future__ import annotations

import os

import psycopg
import pytest

from custodes.lab.partition_bench import run

PG = os.environ.get("CUSTODES_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_partition_bench_deletes_one_day_both_ways_and_drops_its_schema(tmp_path):
    try:
        out = run(pg_url=PG, days=2, devices=3, per_device=10, json_path=tmp_path / "p.json")
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no PostgreSQL at CUSTODES_TEST_PG_URL")
    assert out["rows_per_day"] == 30 and out["deleted_rows"] == 30  # exactly the oldest day, from the flat table
    assert set(out["ingest_rows_per_s"]) == {"trail_part", "trail_flat"}
    assert (tmp_path / "p.json").exists()
    with psycopg.connect(PG.replace("postgresql+psycopg://", "postgresql://")) as conn:
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'partbench_%'").fetchone()[0]
    assert left == 0
