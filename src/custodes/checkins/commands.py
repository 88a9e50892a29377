"""`custodes checkins ...`: the sweep (for cron or a loop), face key rotation and re-encryption."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

checkins_app = typer.Typer(no_args_is_help=True, help="Face check-ins: sweep, face keys.")
Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]


def _container(home: Path | None):
    from custodes.bootstrap import bootstrap
    from custodes.config import Settings

    return bootstrap(Settings.from_env(home=home))


@checkins_app.command("sweep")
def sweep_command(home: Home = None,
                  every: Annotated[int, typer.Option(help="repeat every N seconds (0: run once)")] = 0) -> None:
    """Draw today's prompts for every subject under a check-in policy and raise `check_in_missed`
    for prompts whose response window passed unanswered. Prints a JSON summary per pass."""
    from custodes.checkins.scheduled import sweep

    container = _container(home)
    try:
        while True:
            try:
                typer.echo(json.dumps({"at": container.clock.now().isoformat(), **sweep(container).as_dict()}))
            except Exception as exc:  # noqa: BLE001 - e.g. another sweeper won a race; the next pass redoes it
                if every <= 0:
                    raise
                typer.echo(json.dumps({"at": container.clock.now().isoformat(), "error": str(exc)[:500]}), err=True)
            if every <= 0:
                break
            time.sleep(every)
    finally:
        container.close()


@checkins_app.command("rotate-key")
def rotate_key_command(home: Home = None) -> None:
    """Make a new face key and make it active; run `reencrypt` next to move old data onto it."""
    from custodes.checkins.crypto import rotate

    container = _container(home)
    kid = rotate(container.settings.key_dir, container.clock.now())
    container.close()
    typer.echo(json.dumps({"active_key": kid}))


@checkins_app.command("reencrypt")
def reencrypt_command(home: Home = None, batch: int = 200) -> None:
    """Re-seal every face template and photo under the active key, batch by batch (each batch one
    audited transaction); ends by listing how many rows each key still protects."""
    from rich.progress import Progress

    from custodes.actor import Actor
    from custodes.checkins.crypto import FaceKeyError
    from custodes.checkins.face_store import face_keys, reencrypt, remaining_by_key

    container = _container(home)
    try:
        keys = face_keys(container)
    except FaceKeyError as exc:
        container.close()
        raise typer.BadParameter(str(exc)) from None
    total = {"photos": 0, "templates": 0}
    with Progress(transient=True) as progress:
        task = progress.add_task("re-encrypting", total=None)
        while True:
            with container.uow(Actor.system("checkins.reencrypt")) as uow:
                moved = reencrypt(uow=uow, keys=keys, batch=batch)
                uow.commit()
            for k, v in moved.items():
                total[k] += v
            progress.update(task, advance=sum(moved.values()))
            if not any(moved.values()):
                break
    with container.uow(Actor.system("checkins.reencrypt")) as uow:
        remaining = remaining_by_key(uow=uow)
    container.close()
    typer.echo(json.dumps({"active_key": keys.active, "moved": total, "rows_by_key": remaining}))
