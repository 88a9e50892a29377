"""A database that is away or full is a 503 or 507 problem+json with Retry-After, never a 500."""

from __future__ import annotations

import errno

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from custodes import errors
from custodes.config import Settings
from custodes.db.engine import database_hosts, postgres_url


class _State:
    settings = Settings(database_url="sqlite://", unavailable_retry_after_s=7)


def _app(raise_exc: Exception) -> TestClient:
    app = FastAPI()
    app.state.container = _State()
    errors.install(app)

    @app.get("/v1/thing")
    def thing():
        raise raise_exc

    return TestClient(app, raise_server_exceptions=False)


def _dbapi(cls, orig: Exception):
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(("exc", "status"), [
    (_dbapi(sa_exc.OperationalError, psycopg.OperationalError("connection refused")), 503),
    (_dbapi(sa_exc.OperationalError, psycopg.errors.AdminShutdown("terminating connection")), 503),
    (_dbapi(sa_exc.InternalError, psycopg.errors.ReadOnlySqlTransaction("read-only")), 503),
    (sa_exc.TimeoutError("QueuePool limit reached"), 503),
    (_dbapi(sa_exc.OperationalError, psycopg.errors.DiskFull("could not extend file")), 507),
    (OSError(errno.ENOSPC, "No space left on device"), 507),
])
def test_storage_failures_are_refusals_with_retry_after(exc, status):
    r = _app(exc).get("/v1/thing")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["Retry-After"] == "7"
    assert r.json()["status"] == status


@pytest.mark.parametrize("exc", [
    _dbapi(sa_exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")),
    OSError(errno.EACCES, "Permission denied"),
    ValueError("a bug"),
])
def test_other_failures_stay_500(exc):
    r = _app(exc).get("/v1/thing")
    assert r.status_code == 500
    assert "Retry-After" not in r.headers


def test_multi_host_url_gets_a_connect_timeout_per_host():
    url = "postgresql+psycopg://u@/db?host=10.0.0.1:5432&host=10.0.0.2:5433&target_session_attrs=read-write"
    out = postgres_url(url, 3)
    assert "connect_timeout=3" in out and "target_session_attrs=read-write" in out
    assert database_hosts(out) == ["10.0.0.1:5432", "10.0.0.2:5433"]
    assert postgres_url(url + "&connect_timeout=9", 3).count("connect_timeout") == 1
