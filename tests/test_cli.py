"""The command line: migrations, officers, readable one-line errors, and the demo data set."""

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from custodes.app import create_app
from custodes.bootstrap import bootstrap
from custodes.cli.main import app as cli
from custodes.config import Settings


def _env(monkeypatch, tmp_path, url=None):
    monkeypatch.setenv("CUSTODES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CUSTODES_DATABASE_URL", raising=False)
    if url:
        monkeypatch.setenv("CUSTODES_DATABASE_URL", url)


def test_users_add_from_stdin_then_sign_in(monkeypatch, tmp_path, settings, agencies, clock):
    _env(monkeypatch, tmp_path, settings.database_url)
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "--username", "newbie", "--agency", "home_office agency",
                            "--role", "caseworker", "--password-stdin"], input="long-enough-password\n")
    assert r.exit_code == 0, r.output
    c = bootstrap(Settings(home=tmp_path / "home", database_url=settings.database_url), clock)
    with TestClient(create_app(c)) as client:
        ok = client.post("/v1/auth/token", data={"username": "newbie", "password": "long-enough-password"})
    assert ok.status_code == 200


def test_users_add_errors_are_one_readable_line(monkeypatch, tmp_path, settings, agencies):
    _env(monkeypatch, tmp_path, settings.database_url)
    runner = CliRunner()
    cases = [(["--agency", "home_office agency", "--role", "sheriff"], "role"),
             (["--agency", "Nowhere", "--role", "caseworker"], "no agency named 'Nowhere'")]
    for args, needle in cases:
        r = runner.invoke(cli, ["users", "add", "--username", "x.y.z", *args, "--password-stdin"],
                          input="long-enough-password\n")
        assert r.exit_code == 1
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.output
    short = runner.invoke(cli, ["users", "add", "--username", "x.y.z", "--agency", "home_office agency",
                                "--role", "caseworker", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "password" in short.output


def test_db_upgrade_is_idempotent(monkeypatch, tmp_path):
    _env(monkeypatch, tmp_path)
    runner = CliRunner()
    for _ in range(2):
        r = runner.invoke(cli, ["db", "upgrade"])
        assert r.exit_code == 0, r.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'home' / 'custodes.db'}")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM alembic_version")) >= 1
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_demo_seeds_a_working_system(monkeypatch, tmp_path):
    _env(monkeypatch, tmp_path)
    r = CliRunner().invoke(cli, ["demo", "--home", str(tmp_path / "demo"), "--no-serve"])
    assert r.exit_code == 0, r.output
    assert "casey" in r.output and "http://127.0.0.1:8000" in r.output
    c = bootstrap(Settings(home=tmp_path / "demo", database_url=f"sqlite:///{tmp_path / 'demo' / 'custodes.db'}"))
    with TestClient(create_app(c)) as client:
        assert client.get("/openapi.json").status_code == 200
        token = client.post("/v1/auth/token", data={"username": "casey", "password": "demo-password-2027"})
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert client.get("/v1/subjects", headers=headers).json()["total"] == 3
        probation = client.post("/v1/auth/token", data={"username": "pat", "password": "demo-password-2027"})
        ph = {"Authorization": f"Bearer {probation.json()['access_token']}"}
        assert client.get("/v1/subjects", headers=ph).json()["total"] == 3
    verify = CliRunner().invoke(cli, ["audit", "verify", "--home", str(tmp_path / "demo")])
    assert verify.exit_code == 0 and "intact" in verify.output
