"""Engine creation with the per-backend settings the unit of work relies on.

PostgreSQL may be named by a multi-host URL (libpq's, which psycopg 3 follows):
`postgresql+psycopg://user@/custodes?host=10.0.0.1:5432&host=10.0.0.2:5432&target_session_attrs=read-write`.
Each new connection tries the hosts in turn and keeps the one that takes writes, so after a standby is
promoted the pool finds the new primary by itself: dead pooled connections are dropped at checkout
(`pool_pre_ping`) and the next connection lands on whichever host is now read-write.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, connect_timeout_s: int | None = None, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    return create_engine(postgres_url(url, connect_timeout_s), pool_pre_ping=True, **kwargs)


def postgres_url(url: str, connect_timeout_s: int | None) -> str:
    """The URL with a connection timeout per host, unless it names one: without it, a host that is
    down but not refusing (a lost machine) holds every connection attempt for minutes before the
    next host of a multi-host URL is tried."""
    parsed = make_url(url)
    if connect_timeout_s is None or "connect_timeout" in parsed.query:
        return url
    return parsed.update_query_dict({"connect_timeout": str(connect_timeout_s)}).render_as_string(hide_password=False)


def database_hosts(url: str) -> list[str]:
    """The hosts a PostgreSQL URL names, in the order connections try them (for logs and `doctor`)."""
    parsed = make_url(url)
    hosts = parsed.query.get("host")
    if hosts:
        return [hosts] if isinstance(hosts, str) else list(hosts)
    return [f"{parsed.host or 'localhost'}:{parsed.port or 5432}"]


def private_file(path: Path) -> None:
    """Make the database file (and its folder) readable by the service user only. SQLite gives its
    -wal and -shm files the database file's own permissions."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Every unit of work appends to the audit chain, so take the write lock up front:
        # a deferred transaction that upgrades later can deadlock instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
