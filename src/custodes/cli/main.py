"""Entry point of the `custodes` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from custodes.checkins.commands import checkins_app
from custodes.cli import admin
from custodes.lab.checkin_api_bench import bench_checkin_api
from custodes.lab.checkin_bench import bench_checkin
from custodes.lab.commands import bench_ingest_command, simulate_command
from custodes.lab.faces.evaluation import eval_faces
from custodes.lab.pad.commands import bench_liveness_command, eval_pad_command, pad_app
from custodes.lab.rules_bench import bench_rules
from custodes.telemetry.commands import telemetry_app

app = typer.Typer(no_args_is_help=True, help="Custodes: accountable electronic monitoring.",
                  pretty_exceptions_enable=False)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures as JSON.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations over whole data sets.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
users_app = typer.Typer(no_args_is_help=True, help="Officer accounts.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

# Each domain keeps its command bodies in its own module; only the registration lives here.
app.add_typer(pad_app, name="pad")
app.add_typer(checkins_app, name="checkins")
app.add_typer(telemetry_app, name="telemetry")
eval_app.command("faces")(eval_faces)
eval_app.command("pad")(eval_pad_command)
bench_app.command("rules")(bench_rules)
bench_app.command("ingest")(bench_ingest_command)
app.command("simulate")(simulate_command)
bench_app.command("checkin")(bench_checkin)
bench_app.command("checkin-api")(bench_checkin_api)
bench_app.command("liveness")(bench_liveness_command)

Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, home: Home = None,
          speed: Annotated[float, typer.Option(min=0.001, max=3600,
                                               help="run on simulated time, this many times real time "
                                                    "(demos and field simulations only)")] = 1.0) -> None:
    """Run the API with the in-process pipeline, scheduled checks and notifications."""
    admin.serve(host=host, port=port, home=home, speed=speed)


@app.command()
def demo(host: str = "127.0.0.1", port: int = 8000, home: Home = None,
         serve: Annotated[bool, typer.Option(help="serve after seeding")] = True) -> None:
    """Create a demo database (agencies, officers, subjects, orders, devices) and serve it."""
    from custodes import demo as demo_module

    demo_module.run(host=host, port=port, home=home, serve=serve)


@db_app.command("upgrade")
def db_upgrade(home: Home = None) -> None:
    """Apply every Alembic migration (all heads)."""
    admin.db_upgrade(home=home)


@users_app.command("add")
def users_add(username: Annotated[str, typer.Option()], agency: Annotated[str, typer.Option(help="agency name")],
              role: Annotated[str, typer.Option()],
              password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
              home: Home = None) -> None:
    """Add an officer; the password comes from a prompt or --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    admin.users_add(username=username, agency=agency, role=role, password=password, home=home)


@audit_app.command("verify")
def audit_verify(home: Home = None) -> None:
    """Check the whole audit chain; exit 1 naming the first bad entry."""
    admin.audit_verify(home=home)


@app.command("worker")
def worker(
    name: Annotated[str | None, typer.Option(
        help="MQTT client id: distinct for each worker running side by side, the same across restarts "
             "(the broker redelivers what a crashed worker had not acknowledged)")] = None,
    home: Home = None,
) -> None:
    """Run the pipeline: MQTT shared subscription, per-device processing, ticks and alert notifications."""
    admin.worker(name=name, home=home)
