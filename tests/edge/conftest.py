"""A real uvicorn server (with the edge's limits) on a free loopback port, for tests that need the
socket: slow clients, huge uploads, headers that never end."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import pytest

from custodes.app import create_app
from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.edge import server
from custodes.lab.broker import free_port


@pytest.fixture
def live_server(tmp_path, sqlite_template, clock) -> Iterator[tuple[str, int]]:
    # The socket is what matters here, not the database: SQLite only, to keep the suite short.
    shutil.copyfile(sqlite_template, tmp_path / "live.db")
    container = bootstrap(Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'live.db'}"), clock)
    port = free_port()
    srv = server.make_server(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                             header_timeout_s=2.0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    srv.should_exit = True
    thread.join(timeout=10)
    container.close()
