"""Trail storage: append packed segments, read a subject's window, delete by subject or by date.

A segment holds the fixes of one batch for one subject, so both deletions touch few rows: a
subject's whole history is one indexed DELETE, and "older than a date" deletes whole segments and
rewrites only the few that straddle the cut-off.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from custodes.telemetry import segment
from custodes.telemetry.models import TrailSegment
from custodes.telemetry.schemas import SOURCES, FixColumns


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))  # exact, where ms / 1000 as a float is not


def append(session: Session, *, subject_id: uuid.UUID, device_id: uuid.UUID, batch_seq: int,
           cols: FixColumns, packed: bytes | None = None) -> TrailSegment | None:
    """Store fixes as one segment; `packed` is `segment.pack(cols)` when the caller has it already."""
    if not len(cols):
        return None
    row = TrailSegment(subject_id=subject_id, device_id=device_id, batch_seq=batch_seq,
                       t_start=_dt(int(cols.t_ms.min())), t_end=_dt(int(cols.t_ms.max())), n=len(cols),
                       data=packed or segment.pack(cols))
    session.add(row)
    return row


@dataclass(frozen=True)
class TrailPoint:
    at: datetime
    lat: float
    lon: float
    accuracy_m: float
    source: str
    speed_mps: float | None
    fix_id: str  # device/batch-seq/item-index: leads back to the raw batch it came from


def read(session: Session, subject_id: uuid.UUID, t_from: datetime, t_to: datetime) -> list[TrailPoint]:
    """Every fix of the subject with t_from <= time < t_to, in time order, with its accuracy."""
    rows = session.execute(
        select(TrailSegment.device_id, TrailSegment.batch_seq, TrailSegment.data)
        .where(TrailSegment.subject_id == subject_id, TrailSegment.t_start < t_to, TrailSegment.t_end >= t_from)
    ).all()
    lo, hi = int(t_from.timestamp() * 1000), int(t_to.timestamp() * 1000)
    points: list[tuple[int, TrailPoint]] = []
    for device_id, batch_seq, data in rows:
        c, seqs = segment.unpack_with_seq(data, batch_seq)  # a compacted segment holds many batches
        keep = (c.t_ms >= lo) & (c.t_ms < hi)
        for t, la, lo_, acc, src, sp, seq, idx in zip(
            c.t_ms[keep].tolist(), c.lat[keep].tolist(), c.lon[keep].tolist(), c.accuracy_m[keep].tolist(),
            c.source[keep].tolist(), c.speed_mps[keep].tolist(), seqs[keep].tolist(), c.index[keep].tolist(),
            strict=True,
        ):
            points.append((t, TrailPoint(_dt(t), la, lo_, acc, SOURCES[src], None if sp != sp else sp,
                                         f"{device_id}/{seq}/{idx}")))
    points.sort(key=lambda p: (p[0], p[1].fix_id))
    return [p for _, p in points]


def columns_since(session: Session, subject_id: uuid.UUID, since: datetime | None) -> tuple[FixColumns, np.ndarray]:
    """Every stored fix of the subject after `since` (all when None) as columns with their batch
    seq, in (time, seq, item index) order: the order a replay judges them in, whatever their arrival."""
    q = select(TrailSegment.batch_seq, TrailSegment.data).where(TrailSegment.subject_id == subject_id)
    if since is not None:
        q = q.where(TrailSegment.t_end > since)
    lo = None if since is None else int((since - EPOCH) // timedelta(milliseconds=1))
    parts, seqs = [], []
    for batch_seq, data in session.execute(q):
        c, seq = segment.unpack_with_seq(data, batch_seq)
        if lo is not None:
            keep = c.t_ms > lo
            c, seq = c.take(keep), seq[keep]
        parts.append(c)
        seqs.append(seq)
    if not parts:
        return FixColumns.empty(), np.zeros(0, np.int64)
    cols = FixColumns(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in FixColumns.__dataclass_fields__})
    seq = np.concatenate(seqs)
    order = np.lexsort((cols.index, seq, cols.t_ms))
    return cols.take(order), seq[order]


def delete_subject(session: Session, subject_id: uuid.UUID) -> int:
    """Remove one subject's whole trail; returns the number of fixes removed."""
    n = session.scalar(select(func.coalesce(func.sum(TrailSegment.n), 0)).where(TrailSegment.subject_id == subject_id))
    session.execute(delete(TrailSegment).where(TrailSegment.subject_id == subject_id))
    return int(n or 0)


def delete_before(session: Session, cutoff: datetime) -> int:
    """Remove every fix older than `cutoff`; returns the number of fixes removed."""
    whole = select(func.coalesce(func.sum(TrailSegment.n), 0)).where(TrailSegment.t_end < cutoff)
    removed = int(session.scalar(whole) or 0)
    session.execute(delete(TrailSegment).where(TrailSegment.t_end < cutoff))
    cut_ms = int(cutoff.timestamp() * 1000)
    for seg in session.scalars(select(TrailSegment).where(TrailSegment.t_start < cutoff)):
        c, seq = segment.unpack_with_seq(seg.data, seg.batch_seq)
        keep = c.t_ms >= cut_ms
        removed += int((~keep).sum())
        c = c.take(keep)
        merged = seg.data[:1] == bytes([segment.MERGED])  # keep each fix's own batch
        seg.data = segment.pack_merged(c, seq[keep]) if merged else segment.pack(c)
        seg.n, seg.t_start = len(c), _dt(int(c.t_ms.min()))
    return removed


def storage_figures(session: Session) -> dict[str, float]:
    """Bytes per stored fix, indexes included where the database can tell us."""
    fixes = int(session.scalar(select(func.coalesce(func.sum(TrailSegment.n), 0))) or 0)
    if session.get_bind().dialect.name == "postgresql":
        total = int(session.scalar(text("SELECT pg_total_relation_size('trail_segments')")))
        how = "pg_total_relation_size (heap + TOAST + indexes)"
    else:
        total = int(session.scalar(select(func.coalesce(func.sum(func.length(TrailSegment.data)), 0))) or 0)
        how = "packed segment bytes only (SQLite page overhead not included)"
    return {"fixes": fixes, "bytes": total, "bytes_per_fix": round(total / fixes, 2) if fixes else float("nan"),
            "measured_by": how}


def as_geojson(points: list[TrailPoint]) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
         "properties": {"time": p.at.isoformat().replace("+00:00", "Z"), "accuracy_m": p.accuracy_m,
                        "source": p.source, "speed_mps": p.speed_mps, "fix_id": p.fix_id}}
        for p in points]}


def as_csv_lines(points: list[TrailPoint]):
    yield "time,lat,lon,accuracy_m,source,speed_mps,fix_id\n"
    for p in points:
        speed = "" if p.speed_mps is None else f"{p.speed_mps:g}"
        yield (f"{p.at.isoformat().replace('+00:00', 'Z')},{p.lat:.7f},{p.lon:.7f},{p.accuracy_m:g},"
               f"{p.source},{speed},{p.fix_id}\n")


