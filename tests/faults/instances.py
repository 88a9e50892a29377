"""Private PostgreSQL clusters and Mosquitto brokers that a fault test may kill, restart, fill or
fail over, so the shared services everyone else uses are never touched.

Each instance lives in a temporary folder of its own, on a free port, and is stopped (and its
folder removed) by `close()`, which the fixtures call even when a test fails. We run as root, so
PostgreSQL's binaries run as the `postgres` user (`runuser`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from custodes.lab.broker import BrokerMissing, Mosquitto, free_port, wait_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"


class Missing(RuntimeError):
    """A binary the fault tests need is not installed."""


def _as_postgres(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", PG_USER, "--", *map(str, cmd)], check=check, capture_output=True,
                          text=True, timeout=120)


def temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.chown(path, PG_USER, PG_USER)
    path.chmod(0o700)
    return path


class PgCluster:
    """One PostgreSQL 15 cluster: `initdb` (or `pg_basebackup` from a primary), started on a free port."""

    def __init__(self, root: Path, name: str, port: int | None = None) -> None:
        for tool in ("initdb", "pg_ctl", "pg_basebackup"):
            if not (PG_BIN / tool).exists():
                raise Missing(f"{PG_BIN / tool} is missing: the fault tests need PostgreSQL 15's server binaries")
        self.root, self.name = root, name
        self.data = root / name
        self.log = root / f"{name}.log"
        self.port = port or free_port()

    # -- creating ------------------------------------------------------------------------------
    def init(self, **conf: str) -> PgCluster:
        _as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                     "--no-sync", "--no-instructions")
        self.configure(**conf)
        return self

    def configure(self, **conf: str) -> None:
        # Durable as production for what the tests check (a commit answered is on disk), fast
        # otherwise: fsync only matters when the machine itself loses power, which no test does.
        base = {"port": str(self.port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{self.root}'",
                "fsync": "off", "full_page_writes": "off", "shared_buffers": "'16MB'", "max_connections": "60",
                "wal_level": "replica", "max_wal_senders": "4", "hot_standby": "on", "logging_collector": "off"}
        lines = "".join(f"{k} = {v}\n" for k, v in {**base, **conf}.items())
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# fault tests\n" + lines)

    def standby_of(self, primary: PgCluster) -> PgCluster:
        """A streaming standby of `primary` (named by its application_name for synchronous commit)."""
        conninfo = f"host=127.0.0.1 port={primary.port} user={PG_USER} application_name={self.name}"
        _as_postgres(PG_BIN / "pg_basebackup", "-d", conninfo, "-D", self.data, "-R", "-X", "stream",
                     "--no-sync", "-c", "fast")
        self.configure(port=str(self.port))
        return self

    # -- running -------------------------------------------------------------------------------
    def start(self) -> None:
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def kill(self) -> None:
        """The machine is lost: the postmaster and every backend die at once, nothing is flushed."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, signal.SIGKILL)
        wait_port(self.port, up=False)

    def promote(self) -> None:
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-t", "60", "promote")

    def running(self) -> bool:
        return _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    # -- using ---------------------------------------------------------------------------------
    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple]:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_USER, dbname=dbname,
                             autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def url(self, dbname: str = "custodes") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{dbname}"


class Broker(Mosquitto):
    """A private Mosquitto with persistence (QoS 1 messages and persistent sessions survive a restart)."""

    def __init__(self, root: Path, *, max_queued: int = 20000, max_inflight: int = 100) -> None:
        try:
            super().__init__(root, persistent=True, max_queued=max_queued, max_inflight=max_inflight)
        except BrokerMissing as exc:
            raise Missing(f"{exc}: the fault tests need Mosquitto") from None
