"""`custodes retention run [--dry-run]`: delete what is due, with a progress bar and a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.errors import DomainError
from custodes.retention import scheduled

console = Console(stderr=True)
retention_app = typer.Typer(no_args_is_help=True, help="Retention: deletion when the legal basis ends.")

Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]


@retention_app.command("run")
def run_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what is due; delete nothing")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="rows per deleting transaction")] = scheduled.BATCH,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the summary here")] = None,
    home: Home = None,
) -> None:
    """Delete every data class whose retention has run out, except what a legal hold keeps."""
    container = bootstrap(Settings.from_env(home=home))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True)
    task = None

    def on_plan(items):
        nonlocal task
        total = sum(d.records for d in items if not d.held_by)
        task = progress.add_task("dry run" if dry_run else "deleting records", total=total)

    def on_progress(_item, n):
        progress.advance(task, n)

    try:
        with progress:
            summary = scheduled.run(container, dry_run=dry_run, batch_size=batch_size, on_plan=on_plan,
                                    on_progress=on_progress)
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        container.close()
    table = Table(title="retention " + ("(dry run: nothing deleted)" if dry_run else f"run {summary.run_id}"))
    for col in ("class", "subject", "due since", "records", "status"):
        table.add_column(col)
    for d in summary.due:
        status = f"held ({len(d.held_by)})" if d.held_by else ("due" if dry_run else "deleted")
        table.add_row(str(d.data_class), str(d.subject_id or "-"), d.due_at.strftime("%Y-%m-%d"), str(d.records),
                      status)
    console.print(table)
    out = summary.to_dict()
    console.print(f"due {sum(out['due_records'].values())} records, deleted {sum(out['deleted_records'].values())}, "
                  f"held {len(out['held'])} items, receipts {len(out['receipts'])}")
    if json_out:
        json_out.write_text(json.dumps(out, indent=2))
