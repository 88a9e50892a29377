"""Bodies of the administrative commands; errors end as one readable line and a non-zero exit."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.bootstrap import bootstrap
from custodes.clock import AcceleratedClock
from custodes.config import Settings
from custodes.db import migrate
from custodes.errors import DomainError

console = Console(stderr=True)


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def simulated_clock(speed: float, origin: datetime | None, who: str) -> AcceleratedClock | None:
    """The accelerated clock of a field simulation, and the line that lets other processes share it."""
    if speed == 1.0:
        if origin is not None:
            fail("--clock-origin needs --speed")
        return None
    origin = origin or datetime.now(UTC)
    clock = AcceleratedClock(speed, origin=origin)
    console.print(f"{who}: simulated time {speed:g}x real time, now {clock.now():%Y-%m-%d %H:%M} UTC; "
                  f"share it with --speed {speed:g} --clock-origin {origin.isoformat(timespec='microseconds')}",
                  soft_wrap=True, highlight=False)
    return clock


def serve(*, host: str, port: int, home: Path | None, speed: float = 1.0, origin: datetime | None = None) -> None:
    from custodes.app import create_app
    from custodes.edge import server

    settings = Settings.from_env(home=home)
    migrate.upgrade(settings.database_url)
    clock = simulated_clock(speed, origin, "serve")
    server.run(create_app(bootstrap(settings, clock)), host=host, port=port, log_level="info")


def demo(*, host: str, port: int, home: Path | None, serve: bool, reset: bool, people: int = 0,
         speed: float = 1.0, hours: float = 48.0, browser: bool = False) -> None:
    from custodes import demo as demo_module

    def on_serving(url: str) -> None:
        if people:
            from custodes.config import data_root
            from custodes.lab.field import live

            live.start(url=url, people=people, hours=hours, speed=speed, username="casey",
                       password=demo_module.PASSWORD, data=data_root(), console=console)
        if browser:
            import webbrowser

            threading.Timer(1.5, webbrowser.open, args=(f"{url}/",)).start()

    try:
        demo_module.run(host=host, port=port, home=home, serve=serve, reset=reset, speed=speed,
                        on_serving=on_serving)
    except demo_module.DemoRefused as exc:
        fail(str(exc))


def init(*, agency: str, kind: str, username: str, password: str, home: Path | None) -> None:
    settings = Settings.from_env(home=home)
    try:
        agency_data = AgencyCreate(name=agency, kind=kind)
        user_data = UserCreate(username=username, password=password, role=Role.ADMIN)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    migrate.upgrade(settings.database_url)
    container = bootstrap(settings)
    try:
        with container.uow(Actor.system("init")) as uow:
            if not access.is_empty(uow=uow):
                fail(f"the database at {_safe_url(settings.database_url)} already has agencies or officers; "
                     "init sets up a fresh database only (add officers with `custodes users add`)")
            access.mark_installation(uow=uow, kind="production")
            made = access.create_agency(uow=uow, data=agency_data)
            uow.session.flush()
            user = access.create_user(uow=uow, data=user_data, agency_id=made.id)
            uow.commit()
    except DomainError as exc:
        fail(exc.detail)
    console.print(f"created agency {made.name!r} and administrator {user.username}; "
                  f"database at {_safe_url(settings.database_url)}")


def db_upgrade(*, home: Path | None) -> None:
    settings = Settings.from_env(home=home)
    migrate.upgrade(settings.database_url)
    console.print(f"database at {_safe_url(settings.database_url)} is up to date")


def users_add(*, username: str, agency: str, role: str, password: str, home: Path | None) -> None:
    container = bootstrap(Settings.from_env(home=home))
    try:
        data = UserCreate(username=username, password=password, role=role)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    try:
        with container.uow(Actor.system("cli")) as uow:
            found = access.get_agency_by_name(uow=uow, name=agency)
            user = access.create_user(uow=uow, data=data, agency_id=found.id)
            uow.commit()
    except DomainError as exc:
        fail(exc.detail)
    console.print(f"added {user.username} ({user.role}) to {agency}")


def users_unlock(*, username: str, home: Path | None) -> None:
    container = bootstrap(Settings.from_env(home=home))
    try:
        with container.uow(Actor.system("cli")) as uow:
            user = access.get_user_by_name(uow=uow, username=username)
            access.unlock(uow=uow, user_id=user.id, agency_id=None)
            uow.commit()
    except DomainError as exc:
        fail(exc.detail)
    console.print(f"{user.username} may sign in again at once")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def worker(*, name: str | None, home: Path | None, speed: float = 1.0, origin: datetime | None = None) -> None:
    import logging

    from custodes.runner import fault_point, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # The crash tests' fault hook, injected here at the entrypoint only (never read by the runner).
    spec = os.environ.get("CUSTODES_FAULT_AT")
    clock = simulated_clock(speed, origin, "worker")
    run_worker(bootstrap(Settings.from_env(home=home), clock), name, fault=fault_point(spec) if spec else None)
