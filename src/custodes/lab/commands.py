"""`custodes bench ingest`; heavy imports stay inside so the CLI starts fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]


def bench_ingest_command(
    people: Annotated[int, typer.Option(help="synthetic monitored people (one device each)")] = 200,
    batch: Annotated[int, typer.Option(help="fixes per uploaded batch (at most 10,000)")] = 2000,
    seconds: Annotated[float, typer.Option(help="how long to upload for, per database")] = 20.0,
    uploaders: Annotated[int, typer.Option(help="concurrent uploading clients")] = 4,
    workers: Annotated[int, typer.Option(help="`custodes worker` processes beside the API")] = 1,
    rate: Annotated[float, typer.Option(help="offered load in fixes/s (0: as fast as possible)")] = 0,
    databases: Annotated[str, typer.Option(help="comma-separated: sqlite,postgresql")] = "sqlite,postgresql",
    pg_url: Annotated[str, typer.Option(help="PostgreSQL URL (a private schema is made and dropped)")] =
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
) -> None:
    """End to end through the HTTP API and workers: fixes/s and upload→alert latency, as JSON."""
    from custodes.lab.ingest_bench import run

    run(people=people, batch=batch, seconds=seconds, uploaders=uploaders, workers=workers,
        databases=[d for d in databases.split(",") if d], pg_url=pg_url, rate=rate)


def bench_retention(
    years: Annotated[float, typer.Option(help="years of one-a-minute fixes for the deleted subject")] = 6.0,
    per_segment: Annotated[int, typer.Option(help="fixes per packed segment (one device batch)")] = 60,
    devices: Annotated[int, typer.Option(help="other devices ingesting during the deletion")] = 20,
    rate: Annotated[float, typer.Option(help="uploads per second across those devices")] = 20.0,
    baseline_seconds: Annotated[float, typer.Option(help="ingestion before the deletion starts")] = 15.0,
    batch_size: Annotated[int, typer.Option(help="segments per deleting transaction")] = 500,  # retention BATCH
    pg_url: Annotated[str, typer.Option(help="PostgreSQL URL (a private schema is made and dropped)")] =
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures here too")] = None,
) -> None:
    """Delete one subject's six-year trail on PostgreSQL while other devices ingest; figures as JSON."""
    import json

    from custodes.lab.retention_bench import console, run

    out = run(pg_url=pg_url, years=years, per_segment=per_segment, devices=devices, baseline_s=baseline_seconds,
              batch_size=batch_size, rate=rate)
    text = json.dumps(out, indent=2)
    print(text)
    if json_out:
        json_out.write_text(text)
    console.print(f"deleted {out['deleted_fixes']:,} fixes in {out['delete_s']} s over {out['delete_transactions']} "
                  f"transactions (longest {out['longest_delete_transaction_ms']} ms); ingestion p99 "
                  f"{out['ingest_p99_ms_baseline']} ms before, {out['ingest_p99_ms_during_delete']} ms during")
