"""uvicorn with every limit that bounds a client, in one place.

What is bounded where:
- request head: at most `HEADER_BYTES` (h11's incomplete-event cap; more gets 400) and complete
  within `header_timeout_s` of the connection opening or of the previous answer (else closed);
- idle keep-alive connections: closed after `timeout_keep_alive` seconds;
- connections and requests at once: `limit_concurrency` (more get uvicorn's 503 at once);
- request body: size per route kind and minimum rate, in `limits.BodyLimits` (413, 408);
- sign-in attempts and device uploads: throttled in `access.throttle` and `edge.rates` (429).
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
CONCURRENCY = 256


class BoundedH11(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for the request head (slowloris)."""

    header_timeout_s = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _header_timeout(self) -> None:
        # IDLE: no complete request head has arrived since the timer was armed.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def config(app, *, host: str, port: int, log_level: str = "info", header_timeout_s: float = HEADER_TIMEOUT_S,
           concurrency: int = CONCURRENCY) -> uvicorn.Config:
    protocol = type("BoundedH11", (BoundedH11,), {"header_timeout_s": header_timeout_s})
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol, ws="none",
                          timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=concurrency,
                          h11_max_incomplete_event_size=HEADER_BYTES, server_header=False)


def make_server(app, **kwargs) -> uvicorn.Server:
    return uvicorn.Server(config(app, **kwargs))


def run(app, *, host: str, port: int, log_level: str = "info") -> None:
    make_server(app, host=host, port=port, log_level=log_level).run()
