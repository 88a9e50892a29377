"""A real uvicorn server (with the edge's limits) on a free loopback port, for tests that need the
socket: slow clients, huge uploads, headers that never end."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from custodes.app import create_app
from custodes.edge import server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(container) -> Iterator[tuple[str, int]]:
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
