"""`custodes report fairness|dpia --out DIR`: Markdown, JSON (and a PNG chart for fairness)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from custodes.actor import Actor
from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.errors import DomainError
from custodes.reports import dpia, fairness, render
from custodes.retention.scheduled import policy_of

console = Console(stderr=True)
report_app = typer.Typer(no_args_is_help=True, help="Transparency reports: fairness and DPIA evidence.")
Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]
Out = Annotated[Path, typer.Option("--out", help="folder for the report files")]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from None
    if at.tzinfo is None:
        raise typer.BadParameter("give a time zone (e.g. 2027-01-01T00:00:00Z)", param_hint=name)
    return at


def _write(out: Path, name: str, data: dict, markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))
    (out / f"{name}.md").write_text(markdown)
    console.print(f"written {out / (name + '.md')} and {out / (name + '.json')}")


def fairness_command(out: Out, from_: Annotated[str | None, typer.Option("--from")] = None,
                     to: Annotated[str | None, typer.Option("--to")] = None,
                     faces_eval: Annotated[Path | None, typer.Option("--faces-eval", exists=True, dir_okay=False,
                                                                     help="`custodes eval faces` JSON")] = None,
                     home: Home = None) -> None:
    """Per-group FTA, FNMR and same-group FMR with Wilson 95 % intervals; Markdown, JSON and a PNG."""
    t_from, t_to = _when(from_, "--from"), _when(to, "--to")
    container = bootstrap(Settings.from_env(home=home))
    try:
        with container.uow(Actor.system("report")) as uow:
            rep = fairness.build(uow.session, t_from=t_from, t_to=t_to, faces_eval=faces_eval)
    except (ValueError, KeyError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        container.close()
    chart = render.fairness_chart(rep, out / "fairness.png")
    _write(out, "fairness", rep, render.fairness_markdown(rep, chart.name if chart else None))


def dpia_command(out: Out, faces_eval: Annotated[Path | None, typer.Option("--faces-eval", exists=True,
                                                                           dir_okay=False)] = None,
                 home: Home = None) -> None:
    """DPIA evidence: who is monitored, necessity, reviews, police access, reads, retention, outcomes."""
    container = bootstrap(Settings.from_env(home=home))
    try:
        with container.uow(Actor.system("report")) as uow:
            rep = dpia.build(uow.session, uow.clock.now(), policy_of(container), faces_eval)
    except (DomainError, ValueError) as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'detail', exc)}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        container.close()
    _write(out, "dpia", rep, render.dpia_markdown(rep))
