"""`custodes audit ...`: verify the chain (against signed checkpoints) and write a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]
Anchors = Annotated[Path | None, typer.Option(
    help="checkpoint file (JSON lines; default $CUSTODES_HOME/audit/checkpoints.jsonl if present)")]
console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _container(home: Path | None):
    from custodes.bootstrap import bootstrap
    from custodes.config import Settings

    return bootstrap(Settings.from_env(home=home))


@audit_app.command("verify")
def verify_command(home: Home = None, anchors: Anchors = None) -> None:
    """Check the whole audit chain, and that it still holds every signed checkpoint; exit 1 naming
    the first bad entry."""
    from custodes.actor import Actor
    from custodes.audit import anchors as anchoring
    from custodes.audit import chain

    container = _container(home)
    path = anchors or anchoring.default_path(container.settings.home)
    anchored: dict[int, str] = {}
    if anchors is not None or path.is_file():
        try:
            public = anchoring.signing_key(container.settings.key_dir).public_key()
            found = anchoring.read(path, public)
            anchored = anchoring.expected_hashes(found)
        except anchoring.AnchorError as exc:
            _fail(str(exc))
    with container.uow(Actor.system("cli")) as uow:
        total = chain.count(uow.session)
        checked = 0
        with Progress(TextColumn("verifying audit chain"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("verify", total=total)
            for item in chain.verify(uow.session, container.audit_key, anchored=anchored):
                if isinstance(item, chain.ChainFault):
                    _fail(f"audit chain broken at entry {item.seq}: {item.reason} "
                          f"({checked} entries verified before it)")
                checked += 1
                bar.advance(task)
    against = f", {len(anchored)} signed checkpoints held (file {path})" if anchored else ", no checkpoints checked"
    console.print(f"audit chain intact: {checked} entries verified{against}")


@audit_app.command("checkpoint")
def checkpoint_command(home: Home = None, anchors: Anchors = None) -> None:
    """Sign the chain's current end and append it to the checkpoint file and the outbox (the
    server does this every minute; run it from cron where no server runs)."""
    from custodes.audit import anchors as anchoring

    container = _container(home)
    try:
        cp = anchoring.checkpoint(container, anchors)
    except anchoring.AnchorError as exc:
        _fail(str(exc))
    if cp is None:
        console.print("chain has not grown since the last checkpoint: nothing written")
    else:
        console.print(f"checkpoint at entry {cp.seq} written ({cp.at})")
