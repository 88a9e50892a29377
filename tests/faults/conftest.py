"""Fixtures of the fault tests: private PostgreSQL and Mosquitto instances (one each per module, always
cleaned up), the platform's API served by uvicorn on a free port, and `custodes worker` processes.

Nothing here touches the shared PostgreSQL on 5432 or the shared Mosquitto on 1883: the faults are
done to instances of our own. Under CI=true a missing binary fails the test rather than skipping it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from custodes.app import create_app
from custodes.bootstrap import Container, bootstrap
from custodes.clock import SystemClock
from custodes.config import Settings
from custodes.db import migrate
from custodes.edge.server import make_server

from .instances import Broker, Missing, PgCluster, free_port, temp_dir

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(what: str, error: Exception) -> None:
    message = f"{what}: {error}"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


def new_database(cluster: PgCluster, dbname: str = "custodes") -> str:
    cluster.sql(f"CREATE DATABASE {dbname}")
    url = cluster.url(dbname)
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    """A private PostgreSQL 15 cluster with the schema migrated (database `custodes`)."""
    root = temp_dir("custodes-faults-pg-")
    try:
        cluster = PgCluster(root, "primary").init()
        cluster.start()
        new_database(cluster)
    except (Missing, subprocess.CalledProcessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        need("a private PostgreSQL cluster could not be made", getattr(exc, "stderr", None) or exc)
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    yield from private_broker()


def private_broker(**limits: int) -> Iterator[Broker]:
    """A started private Mosquitto (queue limits as given), closed when the generator ends."""
    root = Path(temp_dir("custodes-faults-mqtt-"))
    try:
        b = Broker(root, **limits)
        b.start()
    except (Missing, OSError, RuntimeError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        need("a private Mosquitto could not be started", exc)
    try:
        yield b
    finally:
        b.close()


def empty(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(sa.text(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'")).all()
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(pg: PgCluster) -> str:
    url = pg.url()
    empty(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str, broker: Broker) -> Settings:
    # Scheduled checks off: a device "silent" while a fault holds its data back would be an artefact.
    return Settings(home=tmp_path / "home", database_url=database_url, mqtt_port=broker.port,
                    mqtt_group=f"faults-{uuid.uuid4().hex[:6]}", pipeline="worker", tick_seconds=0,
                    unavailable_retry_after_s=2)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    c = bootstrap(settings, SystemClock())
    yield c
    c.close()


class Api:
    """The platform's ASGI app under uvicorn (the production server config) in a thread."""

    def __init__(self, container: Container) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server(create_app(container), host="127.0.0.1", port=self.port, log_level="warning")
        self.thread = threading.Thread(target=self.server.run, name="faults-api", daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    with Api(container) as a:
        yield a


class Workers:
    """`custodes worker` subprocesses on the test's settings; each one's log goes to a file (read on
    failure), so a full pipe can never stall it. Every worker still running is killed at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen] = []

    def env(self, fault: str | None, database_url: str | None) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODES_")}
        env.update({"CUSTODES_DATABASE_URL": database_url or s.database_url, "CUSTODES_HOME": str(s.home),
                    "CUSTODES_MQTT_HOST": s.mqtt_host, "CUSTODES_MQTT_PORT": str(s.mqtt_port),
                    "CUSTODES_MQTT_GROUP": s.mqtt_group, "CUSTODES_TICK_SECONDS": "0",
                    "CUSTODES_PIPELINE": "worker", "PYTHONPATH": os.pathsep.join(sys.path)})
        if fault:
            env["CUSTODES_FAULT_AT"] = fault
        return env

    def log(self, name: str) -> Path:
        return self.settings.home / f"{name}.log"

    def start(self, name: str, *, fault: str | None = None, database_url: str | None = None,
              ready: str | None = "subscription ready") -> subprocess.Popen:
        log = self.log(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        offset = log.stat().st_size if log.exists() else 0
        with open(log, "a") as out:
            proc = subprocess.Popen([str(Path(sys.executable).with_name("custodes")), "worker", "--name", name],
                                    env=self.env(fault, database_url), stdout=out, stderr=out)
        self.procs.append(proc)
        if ready:
            self.wait_log(name, ready, offset=offset, proc=proc)
        return proc

    def wait_log(self, name: str, text: str, *, offset: int = 0, proc: subprocess.Popen | None = None,
                 timeout: float = 30) -> None:
        log = self.log(name)
        deadline = time.monotonic() + timeout
        while text not in (log.read_text()[offset:] if log.exists() else ""):
            if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                pytest.fail(f"worker {name}: no '{text}' in its log:\n{log.read_text()[offset:][-3000:]}")
            time.sleep(0.05)

    def sigkill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def workers(settings: Settings) -> Iterator[Workers]:
    w = Workers(settings)
    yield w
    w.close()
