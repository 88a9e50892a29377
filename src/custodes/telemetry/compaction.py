"""Trail compaction: merge a device's small, settled segments into one segment per hour, then per
quarter of a day (six hours).

Ingestion writes one segment per (batch, subject): at 10-fix messages that is ~40 bytes a fix, most
of it row and index overhead. Once an hour is settled (15 minutes after it ended), its segments
(level 0) become one format-3 segment (level 1, `segment.pack_merged`, each fix keeping its batch's
sequence number); once a quarter day (00-06, 06-12, 12-18, 18-24 UTC) is settled, an hour after it
ended, its hours become one segment (level 2). A quarter day rather than a whole day: the hour
segments waiting for it are what a running table must hold room for (about 15 KB a device instead
of 60), while 1,440 fixes (at 15 s) already make the row overhead negligible. Late data lands as a
new level-0 segment in a settled hour or quarter and is merged into it at
the next pass. Reads (`trail.read`, `trail.columns_since`) give the same fixes, with the same
`fix_id`s, in the same order, before and after.

Safety, per device turn (one transaction):
- two workers never compact the same device at once (`pg_try_advisory_xact_lock` on PostgreSQL, a
  busy device is skipped, not waited for; SQLite's write lock, taken at BEGIN, serialises anyway);
- the source rows are locked (`FOR UPDATE`) and deleted by id, so a segment that ingestion commits
  meanwhile is simply not part of this merge (merged at the next pass): nothing lost, nothing twice;
  a row that retention deleted first is not returned by the locking read and is not resurrected.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from custodes.actor import Actor
from custodes.telemetry import segment
from custodes.telemetry.models import TrailSegment
from custodes.telemetry.schemas import FixColumns

log = logging.getLogger(__name__)
ACTOR = Actor.system("trail-compaction")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR, QUARTER_DAY = timedelta(hours=1), timedelta(hours=6)
# How long after a bucket ends before it is merged: most late data (a reconnect, a retry) is in by then.
SETTLE = {1: timedelta(minutes=15), 2: timedelta(hours=1)}
WIDTH = {1: HOUR, 2: QUARTER_DAY}
LOCK_CLASS = 1410  # advisory lock namespace (class id) of trail compaction, one key per device


@dataclass
class Pass:
    """What one pass did (or, dry, would do)."""

    devices: int = 0
    skipped: int = 0  # busy with another compactor, or failed (retried next pass)
    groups: int = 0
    segments_in: int = 0
    segments_out: int = 0
    fixes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Pass) -> None:
        for k in ("devices", "skipped", "groups", "segments_in", "segments_out", "fixes", "bytes_in", "bytes_out"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.errors += other.errors


def cutoffs(now: datetime) -> dict[int, datetime]:
    """Level L takes segments starting before this instant: the start of the newest settled bucket's end."""
    return {lvl: _floor(now - SETTLE[lvl], WIDTH[lvl]) for lvl in WIDTH}


def _floor(at: datetime, width: timedelta) -> datetime:
    return EPOCH + ((at - EPOCH) // width) * width


def _settled(now: datetime):
    cut = cutoffs(now)
    return and_(TrailSegment.level < 2, or_(and_(TrailSegment.level == 0, TrailSegment.t_start < cut[1]),
                                            TrailSegment.t_start < cut[2]))


def pending_devices(session: Session, now: datetime, limit: int | None = None) -> list[uuid.UUID]:
    """Devices with segments to merge (read from the partial index over unsettled segments)."""
    q = select(TrailSegment.device_id).where(_settled(now)).distinct()
    return list(session.scalars(q.limit(limit) if limit else q))


def _lock(session: Session, device_id: uuid.UUID) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already holds the database's one write lock
    key = int.from_bytes(device_id.bytes[:4], "big", signed=True)  # a collision only skips a device once
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:c, :k)"), {"c": LOCK_CLASS, "k": key}))


def compact_device(session: Session, device_id: uuid.UUID, now: datetime, *, dry_run: bool = False,
                   before_write: Callable[[], None] | None = None) -> Pass | None:
    """Merge the device's settled segments in this transaction (the caller commits); None when another
    compactor holds the device. `before_write` is a test hook between the locking read and the writes."""
    if not _lock(session, device_id):
        return None
    cut = cutoffs(now)
    rows = session.execute(
        select(TrailSegment.id, TrailSegment.subject_id, TrailSegment.level, TrailSegment.t_start)
        .where(TrailSegment.device_id == device_id, _settled(now)).order_by(TrailSegment.id).with_for_update()
    ).all()
    groups: dict[tuple[uuid.UUID, int, datetime], set[int]] = {}
    for rid, subject_id, _lvl, t_start in rows:
        t_start = _aware(t_start)
        lvl = 2 if t_start < cut[2] else 1
        groups.setdefault((subject_id, lvl, _floor(t_start, WIDTH[lvl])), set()).add(rid)
    done = Pass(devices=1)
    for (subject_id, lvl, start), ids in groups.items():
        # The bucket's segment merged before (an hour, or a quarter day that late data reopens) joins in.
        ids |= set(session.scalars(
            select(TrailSegment.id).where(TrailSegment.subject_id == subject_id, TrailSegment.device_id == device_id,
                                          TrailSegment.level == lvl, TrailSegment.t_start >= start,
                                          TrailSegment.t_start < start + WIDTH[lvl])
            .order_by(TrailSegment.id).with_for_update()))
        members = session.execute(select(TrailSegment.id, TrailSegment.batch_seq, TrailSegment.n, TrailSegment.data)
                                  .where(TrailSegment.id.in_(ids)).order_by(TrailSegment.id)).all()
        if not members:
            continue
        if before_write is not None:
            before_write()
        done.add(_merge(session, subject_id, device_id, lvl, members, dry_run))
    return done


def _merge(session: Session, subject_id: uuid.UUID, device_id: uuid.UUID, level: int, members,
           dry_run: bool) -> Pass:
    n = sum(m.n for m in members)
    got = Pass(groups=1, segments_in=len(members), segments_out=1, fixes=n,
               bytes_in=sum(len(m.data) for m in members))
    ids = [m.id for m in members]
    if len(members) == 1:  # alone in its bucket: already as small as a merge would make it
        got.bytes_out = got.bytes_in
        if not dry_run:
            session.execute(update(TrailSegment).where(TrailSegment.id == ids[0]).values(level=level))
        return got
    parts = [segment.unpack_with_seq(m.data, m.batch_seq) for m in members]
    cols = FixColumns(**{k: np.concatenate([getattr(c, k) for c, _ in parts]) for k in FixColumns.__dataclass_fields__})
    seq = np.concatenate([s for _, s in parts])
    data = segment.pack_merged(cols, seq)
    back, back_seq = segment.unpack_with_seq(data, 0)
    if len(back) != n or len(cols) != n or not np.array_equal(np.sort(back_seq), np.sort(seq)):
        raise RuntimeError(f"compaction of device {device_id}: {len(back)} fixes packed from {n}")  # never store less
    got.bytes_out = len(data)
    if dry_run:
        return got
    session.execute(delete(TrailSegment).where(TrailSegment.id.in_(ids)))
    session.add(TrailSegment(subject_id=subject_id, device_id=device_id, batch_seq=int(seq.min()),
                             t_start=_dt(int(back.t_ms[0])), t_end=_dt(int(back.t_ms[-1])), n=n, data=data,
                             level=level))
    return got


def run(container, *, dry_run: bool = False, limit: int | None = None,
        on_device: Callable[[Pass | None], None] | None = None, devices: list[uuid.UUID] | None = None) -> Pass:
    """One pass over every device with settled segments, one short transaction per device."""
    now = container.clock.now()
    if devices is None:
        with container.session_factory() as s:
            devices = pending_devices(s, now, limit)
    total = Pass()
    for device_id in devices:
        try:
            with container.uow(ACTOR) as uow:
                got = compact_device(uow.session, device_id, now, dry_run=dry_run)
                if got is None or dry_run:
                    uow.rollback()
                else:
                    uow.commit()
        except DBAPIError as exc:  # a deadlock with a retention chunk, a lost connection: next pass
            log.warning("compaction of device %s failed, retried next pass: %s", device_id, exc.orig)
            got = Pass(errors=[f"{device_id}: {type(exc.orig).__name__}"])
        if got is None or got.errors:
            total.skipped += 1
            total.errors += got.errors if got else []
        else:
            total.add(got)
        if on_device:
            on_device(got)
    return total


def tick(container, *, limit: int = 500, budget_s: float = 240.0) -> Pass:
    """The runner's periodic job: passes of `limit` devices until nothing is left to merge or the time
    budget (under the 5-minute interval) is spent; a national fleet needs ~1M device merges an hour."""
    deadline = time.monotonic() + budget_s
    done = Pass()
    while time.monotonic() < deadline:
        step = run(container, limit=limit)
        done.add(step)
        if step.groups == 0:  # nothing left, or only devices another runner holds right now
            break
    if done.groups:
        log.info("trail compaction: %d segments into %d (%d fixes, %d -> %d bytes), %d devices skipped",
                 done.segments_in, done.segments_out, done.fixes, done.bytes_in, done.bytes_out, done.skipped)
    return done


def _dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
