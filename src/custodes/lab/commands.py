"""Lab commands: `custodes bench ingest`, `bench load` and `custodes simulate`; heavy imports stay inside so the CLI starts fast."""

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
    via: Annotated[str, typer.Option(help="http (the API) or mqtt (QoS 1 into the workers' shared subscription)")] =
        "http",
    burst: Annotated[bool, typer.Option(help="a reconnect burst: every device sends one buffered batch at once")] =
        False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures here too")] = None,
) -> None:
    """End to end through the API or MQTT and workers: fixes/s and upload→alert latency, as JSON."""
    from custodes.lab.ingest_bench import run

    run(people=people, batch=batch, seconds=seconds, uploaders=uploaders, workers=workers,
        databases=[d for d in databases.split(",") if d], pg_url=pg_url, rate=rate, via=via, burst=burst,
        json_path=json_out)


def bench_load_command(
    devices: Annotated[int, typer.Option(min=1, max=20_000, help="simulated tags, one enrolled person each")] = 300,
    rate: Annotated[float, typer.Option(min=0.1, max=5_000, help="uploads per second offered, all tags together")] = 20.0,
    via: Annotated[str, typer.Option(help="http (the API) or mqtt (QoS 1 to the broker the workers share)")] = "http",
    seconds: Annotated[float, typer.Option(min=1, max=3_600, help="how long to send for; then it stops")] = 30.0,
    url: Annotated[str, typer.Option(help="the running API (this machine only)")] = "http://127.0.0.1:8000",
    mqtt_host: Annotated[str, typer.Option(help="the platform's broker (this machine only)")] = "127.0.0.1",
    mqtt_port: int = 1883,
    senders: Annotated[int, typer.Option(min=0, max=64, help="sending connections (0: 8 for HTTP, 4 for MQTT)")] = 0,
    breach_share: Annotated[float, typer.Option(min=0, max=1, help="share of tags that walk into their "
                                                                  "exclusion zone once (planted alerts)")] = 0.1,
    drain_seconds: Annotated[float, typer.Option(min=1, max=3_600, help="longest wait for processing after")] = 120.0,
    seed: int = 1,
    home: Home = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures here too")] = None,
) -> None:
    """Drive a platform already running here (`custodes serve` / `custodes worker`) with realistic tag
    traffic; run it with the platform's CUSTODES_DATABASE_URL and CUSTODES_HOME (it enrols the tags there)."""
    from custodes.bootstrap import bootstrap
    from custodes.config import Settings
    from custodes.lab.load_bench import LoadRefused, bench_database_url, check_local, run

    try:
        check_local(url, mqtt_host)
        if via not in ("http", "mqtt"):
            raise LoadRefused("--via must be http or mqtt")
    except LoadRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = Settings.from_env(home=home)
    container = bootstrap(Settings.from_env(home=home, database_url=bench_database_url(settings.database_url)))
    try:
        run(container=container, platform_db_url=settings.database_url, url=url, devices=devices, rate=rate, via=via,
            seconds=seconds, mqtt_host=mqtt_host, mqtt_port=mqtt_port, senders=senders, breach_share=breach_share,
            drain_s=drain_seconds, seed=seed, json_path=json_out)
    except LoadRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.close()


def simulate_command(
    subjects: Annotated[int, typer.Option(min=1, max=20000, help="simulated people, one device each")] = 20,
    hours: Annotated[float, typer.Option(min=0.05, max=24 * 14, help="simulated hours")] = 24.0,
    speed: Annotated[float, typer.Option(min=0.001, max=3600,
                                         help="simulated seconds per real second; must equal the platform's "
                                              "(`custodes serve --speed X`)")] = 60.0,
    via: Annotated[str, typer.Option(help="http or mqtt")] = "http",
    seed: Annotated[int, typer.Option(help="random seed: the same seed plants the same day")] = 1,
    url: Annotated[str, typer.Option(help="the running platform (this machine only)")] = "http://127.0.0.1:8000",
    username: Annotated[str, typer.Option(help="a caseworker who enrols the simulated people")] = "casey",
    password: Annotated[str, typer.Option(envvar="CUSTODES_SIM_PASSWORD", help="that caseworker's password")] =
        "demo-password-2027",
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the summary as JSON here")] = None,
    db_url: Annotated[str | None, typer.Option(help="the platform's database, read only: messages and fixes "
                                                    "processed per second, upload→processed latency")] = None,
    settle: Annotated[float | None, typer.Option(min=0, help="real seconds to wait after the window for the "
                                                             "platform's ticks and sweep (default: enough for both)")] = None,
) -> None:
    """Run a population of devices replaying real GeoLife trails against a running platform; print
    what was sent, what was raised, and planted against raised alerts by kind."""
    from urllib.parse import urlparse

    from custodes.config import data_root
    from custodes.lab.field.platform import PlatformError
    from custodes.lab.field.simulate import run

    if via not in ("http", "mqtt"):
        raise typer.BadParameter("--via must be http or mqtt")
    host = urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1") or mqtt_host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("error: the simulator drives only a platform on this machine (127.0.0.1)", err=True)
        raise typer.Exit(2)
    try:
        run(url=url, subjects=subjects, hours=hours, speed=speed, via=via, seed=seed, username=username,
            password=password, data=data_root(), json_path=json_path, mqtt_host=mqtt_host, mqtt_port=mqtt_port,
            db_url=db_url, settle_s=settle)
    except PlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
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


def bench_trail_storage(
    fixes_per_message: Annotated[int, typer.Option(min=1, max=10_000, help="fixes in each uploaded message")] = 10,
    devices: Annotated[int, typer.Option(min=1, max=2_000, help="simulated devices, one person each")] = 20,
    hours: Annotated[float, typer.Option(min=1, max=24 * 31, help="hours of data per device (a fix every 15 s)")] = 24,
    pg_url: Annotated[str, typer.Option(help="PostgreSQL URL (private schemas are made and dropped)")] =
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures here too")] = None,
) -> None:
    """Trail bytes per fix on PostgreSQL before and after compaction, compaction fixes/s, 7-day read time."""
    from custodes.lab.trail_storage_bench import report, run

    report(run(fixes_per_message=fixes_per_message, devices=devices, hours=hours, pg_url=pg_url), json_out)


def bench_partitions(
    days: Annotated[int, typer.Option(min=2, max=60, help="daily partitions of trail")] = 7,
    devices: Annotated[int, typer.Option(min=1, max=20000, help="devices, each with a day of fixes per partition")] = 200,
    per_device: Annotated[int, typer.Option(min=1, max=5760, help="fixes per device per day (1440: one a minute)")] = 1440,
    pg_url: Annotated[str, typer.Option(help="PostgreSQL URL (a private schema is made and dropped)")] =
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    json_path: Annotated[Path | None, typer.Option("--json", help="write the figures here too")] = None,
) -> None:
    """Trail partitioned by day against one table: ingest rows/s, and deleting the oldest day."""
    from custodes.lab.partition_bench import run

    run(pg_url=pg_url, days=days, devices=devices, per_device=per_device, json_path=json_path)
