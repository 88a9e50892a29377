"""Safe defaults of an installation: `custodes init` on a fresh database, a demo that seeds only
new or demo databases (and honours CUSTODES_HOME), the demo password nowhere else, private files."""

import stat
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from custodes.access import security
from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import User, UserCreate
from custodes.app import create_app
from custodes.bootstrap import bootstrap
from custodes.cli.main import app as cli
from custodes.config import Settings
from custodes.db import migrate
from custodes.errors import Invalid

DEMO = security.DEMO_PASSWORD


def _env(monkeypatch, home, url=None):
    monkeypatch.setenv("CUSTODES_HOME", str(home))
    if url:
        monkeypatch.setenv("CUSTODES_DATABASE_URL", url)
    else:
        monkeypatch.delenv("CUSTODES_DATABASE_URL", raising=False)


def test_init_creates_the_first_agency_and_administrator_once(monkeypatch, tmp_path, db_url):
    _env(monkeypatch, tmp_path / "home", db_url)
    args = ["init", "--agency", "Home Office North", "--kind", "home_office", "--username", "root.admin",
            "--password-stdin"]
    r = CliRunner().invoke(cli, args, input="a-long-admin-password\n")
    assert r.exit_code == 0, r.output
    c = bootstrap(Settings(home=tmp_path / "home", database_url=db_url))
    with TestClient(create_app(c)) as client:
        token = client.post("/v1/auth/token", data={"username": "root.admin", "password": "a-long-admin-password"})
        assert token.status_code == 200
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
        assert me["role"] == "admin"
    again = CliRunner().invoke(cli, [*args[:-1], "--username", "second.admin", "--password-stdin"],
                               input="a-long-admin-password\n")
    assert again.exit_code == 1 and "already has" in again.output
    with c.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM users")) == 1
        assert conn.scalar(sa.text("SELECT kind FROM installation")) == "production"
    c.close()


def test_demo_never_seeds_a_database_that_is_not_a_demo(monkeypatch, tmp_path, container, agencies, db_url, rows):
    _env(monkeypatch, tmp_path / "elsewhere", db_url)  # a database with data, named by the environment
    before = rows("agencies")
    r = CliRunner().invoke(cli, ["demo", "--no-serve"])
    assert r.exit_code == 1 and "not a demo database" in r.output
    assert rows("agencies") == before and rows("users") == 0


def test_demo_honours_custodes_home_and_keeps_its_own_database(monkeypatch, tmp_path):
    home = tmp_path / "my-home"
    _env(monkeypatch, home)
    monkeypatch.chdir(tmp_path)
    keep = tmp_path / "var" / "demo" / "custodes.db"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"not the demo's to wipe")
    first = CliRunner().invoke(cli, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert (home / "custodes.db").exists() and keep.read_bytes() == b"not the demo's to wipe"
    second = CliRunner().invoke(cli, ["demo", "--no-serve"])
    assert second.exit_code == 0 and "reusing" in second.output
    engine = sa.create_engine(f"sqlite:///{home / 'custodes.db'}")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM subjects")) == 3  # not seeded twice
    engine.dispose()


def test_the_demo_password_opens_nothing_but_a_demo(client, container, agencies, clock):
    # An account carrying the published password, slipped into a production database.
    with container.uow(Actor.system("test")) as uow:
        uow.session.add(User(id=uuid.uuid4(), username="casey", password_hash=security.hash_password(DEMO),
                             agency_id=agencies["home_office"], role="caseworker", active=True,
                             created_at=clock.now()))
        uow.commit()
    assert client.post("/v1/auth/token", data={"username": "casey", "password": DEMO}).status_code == 401
    with container.uow(Actor.system("test")) as uow, pytest.raises(Invalid, match="demo"):
        access.create_user(uow=uow, data=UserCreate(username="pat", password=DEMO, role="probation"),
                           agency_id=agencies["home_office"])


def test_database_and_key_files_are_private(tmp_path):
    home = tmp_path / "fresh"
    url = f"sqlite:///{home / 'custodes.db'}"
    c = bootstrap(Settings(home=home, database_url=url))
    migrate.upgrade(url)
    with c.engine.connect() as conn:  # the -wal and -shm files exist while a connection is open
        conn.execute(sa.text("SELECT count(*) FROM agencies"))
        for path in (home / "custodes.db", home / "custodes.db-wal", home / "custodes.db-shm",
                     *(home / "keys").glob("*.key")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    assert len(list((home / "keys").glob("*.key"))) >= 3
    c.close()
