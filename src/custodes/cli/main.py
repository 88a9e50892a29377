"""Entry point of the `custodes` command."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from custodes.audit.commands import audit_app
from custodes.checkins.commands import checkins_app
from custodes.cli import admin
from custodes.lab.checkin_api_bench import bench_checkin_api
from custodes.lab.checkin_bench import bench_checkin
from custodes.lab.checkin_lock_bench import bench_checkin_lock
from custodes.lab.commands import (bench_ingest_command, bench_load_command, bench_partitions, bench_retention,
                                    bench_trail_storage, simulate_command)
from custodes.lab.console_bench import bench_console
from custodes.lab.faces.evaluation import eval_faces
from custodes.lab.pad.commands import bench_liveness_command, eval_challenge_frames_command, eval_pad_command, pad_app
from custodes.lab.rules_bench import bench_rules
from custodes.reports.commands import dpia_command, fairness_command, report_app
from custodes.retention.commands import retention_app
from custodes.telemetry.commands import telemetry_app

app = typer.Typer(no_args_is_help=True, help="Custodes: accountable electronic monitoring.",
                  pretty_exceptions_enable=False)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures as JSON.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations over whole data sets.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
users_app = typer.Typer(no_args_is_help=True, help="Officer accounts.")
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

# Each domain keeps its command bodies in its own module; only the registration lives here.
app.add_typer(pad_app, name="pad")
app.add_typer(checkins_app, name="checkins")
app.add_typer(retention_app, name="retention")
app.add_typer(report_app, name="report")
report_app.command("fairness")(fairness_command)
report_app.command("dpia")(dpia_command)
app.add_typer(telemetry_app, name="telemetry")
eval_app.command("faces")(eval_faces)
eval_app.command("pad")(eval_pad_command)
eval_app.command("challenge-frames")(eval_challenge_frames_command)
bench_app.command("rules")(bench_rules)
bench_app.command("ingest")(bench_ingest_command)
bench_app.command("load")(bench_load_command)
app.command("simulate")(simulate_command)
bench_app.command("console")(bench_console)
bench_app.command("checkin")(bench_checkin)
bench_app.command("checkin-api")(bench_checkin_api)
bench_app.command("checkin-lock")(bench_checkin_lock)
bench_app.command("liveness")(bench_liveness_command)
bench_app.command("retention")(bench_retention)
bench_app.command("trail-storage")(bench_trail_storage)
bench_app.command("partitions")(bench_partitions)

Home = Annotated[Path | None, typer.Option(help="data folder (default $CUSTODES_HOME or ./var)")]
ClockOrigin = Annotated[datetime | None, typer.Option(
    formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"],
    help="with --speed: the real instant (ISO, with offset) simulated time started at; give the API and "
         "every worker the same one so that they read the same simulated time (default: now)")]


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, home: Home = None,
          speed: Annotated[float, typer.Option(min=0.001, max=3600,
                                               help="run on simulated time, this many times real time "
                                                    "(demos and field simulations only)")] = 1.0,
          clock_origin: ClockOrigin = None) -> None:
    """Run the API with the in-process pipeline, scheduled checks and notifications."""
    admin.serve(host=host, port=port, home=home, speed=speed, origin=clock_origin)


@app.command()
def demo(host: str = "127.0.0.1", port: int = 8000, home: Home = None,
         serve: Annotated[bool, typer.Option(help="serve after seeding")] = True,
         reset: Annotated[bool, typer.Option(help="start an existing SQLite demo database afresh")] = False,
         people: Annotated[int, typer.Option(min=0, max=200, help="simulated people moving while it serves "
                                                                  "(0: the seeded data only)")] = 20,
         speed: Annotated[float, typer.Option(min=1, max=600, help="simulated time, this many times real time")] = 120.0,
         hours: Annotated[float, typer.Option(min=0.1, max=24 * 14, help="simulated hours the people run for")] = 48.0,
         browser: Annotated[bool, typer.Option(help="open the console in a browser")] = True) -> None:
    """Create a demo database (agencies, officers, subjects, orders, devices) and serve it, with a
    simulated population on accelerated time. It seeds only a new database or one it made itself."""
    admin.demo(host=host, port=port, home=home, serve=serve, reset=reset, people=people if serve else 0,
               speed=speed if serve and people else 1.0, hours=hours, browser=browser and serve)


@app.command()
def init(agency: Annotated[str, typer.Option(help="name of the first agency")],
         kind: Annotated[str, typer.Option(help="home_office, probation, police or monitoring_centre")],
         username: Annotated[str, typer.Option(help="the first administrator")],
         password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
         home: Home = None) -> None:
    """Set up a fresh database: the first agency and its administrator (refused if any exist)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    admin.init(agency=agency, kind=kind, username=username, password=password, home=home)


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


@users_app.command("unlock")
def users_unlock(username: Annotated[str, typer.Argument(help="the officer to let sign in at once")],
                 home: Home = None) -> None:
    """Clear an officer's sign-in delays (after failed attempts by someone else)."""
    admin.users_unlock(username=username, home=home)


@app.command("worker")
def worker(
    name: Annotated[str | None, typer.Option(
        help="MQTT client id: distinct for each worker running side by side, the same across restarts "
             "(the broker redelivers what a crashed worker had not acknowledged)")] = None,
    home: Home = None,
    speed: Annotated[float, typer.Option(min=0.001, max=3600,
                                         help="simulated time, as the API's `serve --speed` (field simulations)")] = 1.0,
    clock_origin: ClockOrigin = None,
) -> None:
    """Run the pipeline: MQTT shared subscription, per-device processing, ticks and alert notifications."""
    admin.worker(name=name, home=home, speed=speed, origin=clock_origin)


if __name__ == "__main__":  # python -m custodes.cli.main, as well as the custodes script
    app()
