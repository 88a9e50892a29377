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
