"""Bodies of the administrative commands; errors end as one readable line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from custodes.access import service as access
from custodes.access.actor import Actor
from custodes.access.models import UserCreate
from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.db import migrate
from custodes.errors import DomainError

console = Console(stderr=True)


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def serve(*, host: str, port: int, home: Path | None) -> None:
    import uvicorn

    from custodes.app import create_app

    settings = Settings.from_env(home=home)
    migrate.upgrade(settings.database_url)
    uvicorn.run(create_app(bootstrap(settings)), host=host, port=port, log_level="info")


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


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def worker(*, name: str | None, home: Path | None) -> None:
    import logging

    from custodes.runner import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_worker(bootstrap(Settings.from_env(home=home)), name)
