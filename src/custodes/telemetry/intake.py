"""Group commit of accepted uploads: one transaction for every upload waiting at that moment.

One writer thread per process and database. It takes whatever uploads are queued (up to a bound),
inserts them in one statement (`ON CONFLICT (device_id, seq) DO NOTHING ... RETURNING`), reads
back the few that clashed and the devices' highest sequence numbers, and commits once; then every
upload of the group gets its answer. Alone, an upload waits for its own commit as before; when
many arrive at once they share the commit, so the API never waits for an fsync per message.
A failed group is retried one upload at a time, so one bad row cannot refuse its neighbours.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from custodes.actor import Actor
from custodes.bootstrap import Container
from custodes.errors import Conflict
from custodes.telemetry.models import TelemetryBatch

log = logging.getLogger(__name__)
ACTOR = Actor.system("ingest")
MAX_GROUP = 500  # rows in one INSERT: 14 parameters each, well under SQLite's and PostgreSQL's limits
MAX_GROUP_BYTES = 32 * 1024 * 1024
IDLE_S = 5.0  # the writer thread ends after this long with nothing to write; the next upload restarts it


@dataclass
class IngestResult:
    seq: int
    highest_seq: int
    accepted: int
    rejected: list[dict] = field(default_factory=list)
    duplicate: bool = False

    def to_dict(self) -> dict:
        return {"seq": self.seq, "highest_seq": self.highest_seq, "accepted": self.accepted,
                "rejected": self.rejected, "duplicate": self.duplicate}


@dataclass
class Upload:
    """One validated upload: the `telemetry_batches` row to insert, and what to answer."""

    values: dict[str, Any]
    accepted: int

    @property
    def key(self) -> tuple[uuid.UUID, int]:
        return self.values["device_id"], self.values["seq"]


def store_group(container: Container, uploads: list[Upload]) -> list[IngestResult | Conflict]:
    """Store the uploads in one transaction; per upload its answer, or the Conflict to answer."""
    first: dict[tuple[uuid.UUID, int], int] = {}
    for i, u in enumerate(uploads):
        first.setdefault(u.key, i)
    table = TelemetryBatch.__table__
    with container.uow(ACTOR) as uow:
        s = uow.session
        ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = (ins(table).values([uploads[i].values for i in first.values()])
                .on_conflict_do_nothing(index_elements=["device_id", "seq"])
                .returning(table.c.device_id, table.c.seq))
        inserted = {(d, q) for d, q in s.execute(stmt)}
        devices = sorted({d for d, _ in first}, key=str)
        clashed = [k for k in first if k not in inserted]
        existing: dict[tuple[uuid.UUID, int], tuple[bytes, list]] = {}
        if clashed:
            rows = s.execute(select(table.c.device_id, table.c.seq, table.c.raw, table.c.rejected).where(
                table.c.device_id.in_({d for d, _ in clashed}), table.c.seq.in_({q for _, q in clashed})))
            existing = {(d, q): (raw, rej) for d, q, raw, rej in rows if (d, q) in first}
        highest = dict(s.execute(select(table.c.device_id, func.max(table.c.seq))
                                 .where(table.c.device_id.in_(devices)).group_by(table.c.device_id)).all())
        uow.commit()
    out: list[IngestResult | Conflict] = []
    for i, u in enumerate(uploads):
        key, seq = u.key, u.values["seq"]
        top = int(highest.get(key[0], seq))
        if key in inserted and first[key] == i:
            out.append(IngestResult(seq, top, u.accepted, list(u.values["rejected"])))
            continue
        raw, rejected = existing.get(key) or (uploads[first[key]].values["raw"], uploads[first[key]].values["rejected"])
        if raw != u.values["raw"]:
            out.append(Conflict(f"sequence number {seq} was already used for a different batch"))
        else:
            out.append(IngestResult(seq, top, u.accepted, list(rejected), duplicate=True))
    return out


class GroupWriter:
    def __init__(self, container: Container, *, max_group: int = MAX_GROUP, idle_s: float = IDLE_S) -> None:
        self.container = container
        self.max_group, self.idle_s = max_group, idle_s
        self._queue: queue.SimpleQueue[tuple[Upload, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.groups = 0  # groups committed (tests and the benchmark read the mean group size)
        self.uploads = 0

    def submit(self, upload: Upload) -> Future[IngestResult]:
        fut: Future[IngestResult] = Future()
        self._queue.put((upload, fut))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-group-commit", daemon=True)
                self._thread.start()
        return fut

    def _run(self) -> None:
        while True:
            try:
                group = [self._queue.get(timeout=self.idle_s)]
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            size = len(group[0][0].values["raw"])
            while len(group) < self.max_group and size < MAX_GROUP_BYTES:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(item)
                size += len(item[0].values["raw"])
            self._write(group)

    def _write(self, group: list[tuple[Upload, Future]]) -> None:
        try:
            results = store_group(self.container, [u for u, _ in group])
        except Exception as exc:
            if len(group) > 1 and not isinstance(exc, OperationalError):
                log.warning("a group of %d uploads failed (%s); storing them one by one", len(group), exc)
                for item in group:
                    self._write([item])
                return
            for _, fut in group:
                fut.set_exception(exc)
            return
        self.groups += 1
        self.uploads += len(group)
        for (_, fut), res in zip(group, results, strict=True):
            if isinstance(res, Exception):
                fut.set_exception(res)
            else:
                fut.set_result(res)


_WRITERS_LOCK = threading.Lock()


def writer(container: Container) -> GroupWriter:
    """The process's writer for this container (its database), kept in the container's extras."""
    with _WRITERS_LOCK:
        w = container.extras.get("ingest_writer")
        if w is None:
            w = container.extras["ingest_writer"] = GroupWriter(container)
        return w  # type: ignore[return-value]
