"""`custodes telemetry quarantine list|replay`: batches set aside after repeated failures;
`custodes telemetry compact [--dry-run]`: merge settled trail segments now."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

telemetry_app = typer.Typer(no_args_is_help=True, help="Telemetry pipeline: quarantined batches, trail compaction.")
quarantine_app = typer.Typer(no_args_is_help=True, help="Batches set aside after repeated processing failures.")
telemetry_app.add_typer(quarantine_app, name="quarantine")
Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="device id")]
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _device(text: str | None) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        _fail(f"--device: {text!r} is not a device id (a UUID)")


def _container(home: Path | None):
    from custodes.bootstrap import bootstrap
    from custodes.config import Settings

    return bootstrap(Settings.from_env(home=home))


@quarantine_app.command("list")
def list_command(device: DeviceOpt = None, home: Home = None) -> None:
    """One line per quarantined batch: device, seq, received, quarantined, attempts, fixes, error."""
    from custodes.actor import Actor
    from custodes.telemetry.quarantine import iso_z, list_quarantined

    device_id = _device(device)
    container = _container(home)
    try:
        with container.uow(Actor.system("cli")) as uow:
            rows = list_quarantined(uow=uow, device_id=device_id)
    finally:
        container.close()
    for q in rows:
        typer.echo(f"{q.device_id} {q.seq} received={iso_z(q.received_at)} quarantined={iso_z(q.quarantined_at)} "
                   f"attempts={q.attempts} fixes={q.fixes} error={q.error}")
    err.print(f"{len(rows)} quarantined batch{'es' if len(rows) != 1 else ''}")


@quarantine_app.command("replay")
def replay_command(device: DeviceOpt = None,
                   seq: Annotated[int | None, typer.Option(help="only this batch of the device")] = None,
                   all_: Annotated[bool, typer.Option("--all", help="every quarantined batch")] = False,
                   home: Home = None) -> None:
    """Put quarantined batches back in line once the cause is fixed; the pipeline processes them next."""
    from custodes.actor import Actor
    from custodes.telemetry.quarantine import replay

    device_id = _device(device)
    if device_id is None and not all_:
        _fail("give --device DEVICE_ID (optionally --seq N) or --all")
    if seq is not None and device_id is None:
        _fail("--seq needs --device")
    container = _container(home)
    try:
        with container.uow(Actor.system("cli")) as uow:
            done = replay(uow=uow, device_id=device_id, seq=seq)
            uow.commit()
    finally:
        container.close()
    for d, s in done:
        typer.echo(f"{d} {s} requeued")
    typer.echo(f"{len(done)} batch{'es' if len(done) != 1 else ''} requeued")


@telemetry_app.command("compact")
def compact_command(dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be merged, change nothing")]
                    = False, home: Home = None) -> None:
    """Merge every device's settled trail segments (hours, then quarter days) now; what the runner does every 5 minutes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from custodes.telemetry import compaction

    from sqlalchemy.exc import OperationalError

    container = _container(home)
    try:
        try:
            with container.session_factory() as s:
                devices = compaction.pending_devices(s, container.clock.now())
        except OperationalError as exc:
            _fail(f"cannot read the trail ({str(exc.orig).splitlines()[0]}); is the database upgraded "
                  "(`custodes db upgrade`)?")
        with Progress(TextColumn("compacting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as bar:
            task = bar.add_task("devices", total=len(devices))
            done = compaction.run(container, dry_run=dry_run, devices=devices,
                                  on_device=lambda _got: bar.advance(task))
    finally:
        container.close()
    verb = "would merge" if dry_run else "merged"
    ratio = f"{done.bytes_in / done.bytes_out:.1f}x" if done.bytes_out else "-"
    typer.echo(f"{verb} {done.segments_in} segments into {done.segments_out} ({done.fixes} fixes, "
               f"{done.bytes_in} -> {done.bytes_out} bytes packed, {ratio}) on {done.devices} devices; "
               f"{done.skipped} skipped (busy or failed, retried next pass)")
    for e in done.errors:
        err.print(f"[yellow]skipped[/yellow] {e}", highlight=False)
