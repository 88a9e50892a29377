"""New alerts as a stream, read from the database so that any process serving the console sees
alerts raised by any other (the pipeline, the scheduler, another web worker).

The cursor is the raise time. A transaction that began a little earlier may commit after a later
one, so each poll looks back `LAG` and skips what it has already sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import select
from starlette.requests import Request

from custodes.actor import Actor
from custodes.subjects.scope import subject_visible
from custodes.alerts.models import Alert
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

LAG = timedelta(seconds=30)
BATCH = 200


class AlertFeed:
    def __init__(self, uow: UnitOfWork, start: datetime) -> None:
        self.cursor = start
        # What was already raised when the reader arrived is on their page, not news.
        self.seen = {a.id: a.raised_at for a in self._since(uow, start - LAG) if a.raised_at <= start}

    def _since(self, uow: UnitOfWork, floor: datetime) -> list[Alert]:
        q = (select(Alert).join(Subject, Subject.id == Alert.subject_id)
             .where(subject_visible(uow.actor), Alert.raised_at >= floor)
             .order_by(Alert.raised_at, Alert.id).limit(BATCH))
        return list(uow.session.scalars(q))

    def poll(self, uow: UnitOfWork) -> list[Alert]:
        """Alerts visible to the unit of work's actor raised since the last poll, oldest first."""
        fresh = [a for a in self._since(uow, self.cursor - LAG) if a.id not in self.seen]
        for a in fresh:
            self.seen[a.id] = a.raised_at
            self.cursor = max(self.cursor, a.raised_at)
        self.seen = {i: t for i, t in self.seen.items() if t >= self.cursor - LAG}
        return fresh


def resume_point(last_event_id: str | None, default: datetime) -> datetime:
    """An EventSource reconnecting sends the id of the last event it saw: the raise time of its alert."""
    if last_event_id:
        try:
            return datetime.fromisoformat(last_event_id.split("|")[0])
        except ValueError:
            pass
    return default


def event_id(alert: Alert) -> str:
    return f"{alert.raised_at.isoformat()}|{alert.id}"


def sse(event: str, data: str, ident: str | None = None) -> str:
    lines = [f"event: {event}"] + ([f"id: {ident}"] if ident else []) + [f"data: {d}" for d in data.splitlines()]
    return "\n".join(lines) + "\n\n"


async def stream(request: Request, uow_factory: Callable[[Actor], UnitOfWork], actor: Actor, start: datetime,
                 render: Callable[[UnitOfWork, Alert], str], *, event: str = "alert", poll_seconds: float = 1.0,
                 lifetime_seconds: float = 300.0, heartbeat_seconds: float = 15.0) -> AsyncIterator[str]:
    """Server-sent events: one `event` per new alert, rendered by `render` inside the poll's unit of
    work. The stream ends after `lifetime_seconds`; the browser reconnects from its last event id."""

    def _open() -> AlertFeed:
        with uow_factory(actor) as uow:
            return AlertFeed(uow, start)

    def _poll(feed: AlertFeed) -> list[str]:
        with uow_factory(actor) as uow:
            return [sse(event, render(uow, a), event_id(a)) for a in feed.poll(uow)]

    feed = await to_thread.run_sync(_open)
    yield "retry: 2000\n\n"
    loop = asyncio.get_running_loop()
    began = last_beat = loop.time()
    while loop.time() - began < lifetime_seconds:
        if await request.is_disconnected():
            return
        for chunk in await to_thread.run_sync(_poll, feed):
            yield chunk
        if loop.time() - last_beat >= heartbeat_seconds:
            last_beat = loop.time()
            yield ": still here\n\n"
        await asyncio.sleep(poll_seconds)

