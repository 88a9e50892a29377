"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL; both are required.

PostgreSQL tests use a private schema per test session (so parallel runs do not collide), migrated
once; each test starts from empty tables. SQLite tests copy a migrated template file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from custodes.access import security
from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.app import create_app
from custodes.bootstrap import Container, bootstrap
from custodes.clock import FrozenClock
from custodes.config import Settings
from custodes.db import migrate

BACKENDS = [b for b in os.environ.get("CUSTODES_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_URL = os.environ.get("CUSTODES_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
# Hashing dominates the suite's run time: the tests use argon2's cheapest profile (production never does).
security.use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the storage tests and is unreachable at {PG_URL}: {exc}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "custodes.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _empty_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(sa.text(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'")).all()
        if tables:
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "custodes.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _empty_pg(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db_url)


@pytest.fixture
def container(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    c = bootstrap(settings, clock)
    yield c
    c.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def agencies(container: Container) -> dict[str, uuid.UUID]:
    """Two Home Office teams (to test cross-agency scoping), probation, police, monitoring centre."""
    spec = {"home_office": "home_office", "other_office": "home_office", "probation": "probation",
            "police": "police", "monitoring": "monitoring_centre"}
    with container.uow(Actor.system("test")) as uow:
        made = {key: access.create_agency(uow=uow, data=AgencyCreate(name=f"{key} agency", kind=kind))
                for key, kind in spec.items()}
        uow.commit()
    return {key: a.id for key, a in made.items()}


@pytest.fixture
def officer(container: Container, client: TestClient, agencies: dict[str, uuid.UUID]
            ) -> Callable[[str, str], dict[str, str]]:
    """officer(role, agency_key) -> Authorization headers of a freshly created, signed-in officer."""

    def make(role: str, agency: str = "home_office") -> dict[str, str]:
        username = f"{role}-{agency}-{secrets.token_hex(3)}".replace("_", "-")
        with container.uow(Actor.system("test")) as uow:
            access.create_user(uow=uow, data=UserCreate(username=username, password=PASSWORD, role=Role(role)),
                               agency_id=agencies[agency])
            uow.commit()
        r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return make


SUBJECT = {"full_name": "Jan Kowalski", "date_of_birth": "1990-05-01", "nationality": "PL",
           "preferred_language": "pl", "time_zone": "Europe/London"}
ORDER = {"legal_basis": "Immigration Act 2016, Schedule 10", "starts_at": "2027-01-01T00:00:00Z",
         "ends_at": "2027-12-31T00:00:00Z", "status": "active",
         "less_intrusive_options": [{"option": "weekly reporting", "reason_rejected": "absconded twice"}],
         "necessity": {"necessity": "absconded twice while on weekly reporting; removal directions pending",
                       "proportionality": "curfew hours limited to nights; no exclusion zones beyond the airport",
                       "vulnerability_and_health": "screened at enrolment: no vulnerability or health flags"}}


@pytest.fixture
def new_subject(client: TestClient) -> Callable[..., dict]:
    def make(headers: dict[str, str], **fields) -> dict:
        r = client.post("/v1/subjects", json={**SUBJECT, **fields}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def new_order(client: TestClient) -> Callable[..., dict]:
    def make(headers: dict[str, str], subject_id: str, **fields) -> dict:
        r = client.post(f"/v1/subjects/{subject_id}/orders", json={**ORDER, **fields}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


def count_rows(container: Container, table: str) -> int:
    with container.engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


@pytest.fixture
def rows(container: Container) -> Callable[[str], int]:
    """rows(table) -> how many rows the table holds now."""
    return lambda table: count_rows(container, table)
