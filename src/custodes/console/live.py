"""Server-sent events for live pages, fed by polling the database (so it works across processes:
alerts raised by a worker appear on a page served by another).

    def fetch(cursor):            # runs in a thread; its own unit of work, scoped to the officer
        ...
        return [("alert", html)], new_cursor

    return live.sse(request, fetch, cursor=start)

The browser side is `static/console.js`: an element `data-live="/url"` opens the stream, inserts
each event's HTML when it has `data-live-insert`, and fires `live:<event>` on itself for htmx.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

Fetch = Callable[[Any], tuple[list[tuple[str, str]] | list[tuple[str, str, str]], Any]]
KEEPALIVE_S = 15.0


def format_event(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"] + ([f"id: {event_id}"] if event_id else [])
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return "\n".join(lines) + "\n\n"


async def stream(request: Request, fetch: Fetch, cursor: Any, interval_s: float,
                 max_s: float | None) -> AsyncIterator[str]:
    yield "retry: 3000\n\n"
    started = last_sent = time.monotonic()
    while not await request.is_disconnected():
        events, cursor = await run_in_threadpool(fetch, cursor)
        for event, data, *event_id in events:  # an optional third item is the event's id (Last-Event-ID)
            yield format_event(event, data if isinstance(data, str) else json.dumps(data),
                               event_id[0] if event_id else None)
            last_sent = time.monotonic()
        if time.monotonic() - last_sent > KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        if max_s is not None and time.monotonic() - started > max_s:
            break  # the browser reconnects by itself; bounds how long one request lives
        await asyncio.sleep(interval_s)


def sse(request: Request, fetch: Fetch, *, cursor: Any = None, interval_s: float = 1.0,
        max_s: float | None = 300.0) -> StreamingResponse:
    return StreamingResponse(stream(request, fetch, cursor, interval_s, max_s), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
