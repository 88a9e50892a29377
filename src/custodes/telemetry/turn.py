"""One pipeline turn over many devices: claimed, read and judged together, committed once.

What `Pipeline.process_device` does for one device, set-based: the cursors of a chunk of devices
are claimed in one statement (SKIP LOCKED), and their pending batches, spans, rule states, rule
versions and checkpoints are each read in one query. Round k (every device's k-th batch) goes to
`evaluate_many` in one vectorised call, and one commit makes the whole turn visible. A device's
batches are still judged in seq order, each on the state the one before left.

What this path does not take, it hands back for the per-device path, which runs after the commit:
a protected person's phone, a second device feeding a subject already in the turn, a late batch
(and the device's batches after it: the replay is per subject), and rules that cannot be judged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from custodes.actor import Actor
from custodes.bootstrap import Container
from custodes.devices.models import Assignment
from custodes.proximity import service as proximity
from custodes.rules import SubjectState
from custodes.telemetry import alerting, late, segment, trail
from custodes.telemetry.evaluation import Run, evaluate_many
from custodes.telemetry.models import DeviceCursor, MonitorState, TelemetryBatch, pending_batches
from custodes.telemetry.ruleset import RuleCache, RulesUnusable
from custodes.telemetry.schemas import FixColumns

FOREVER_MS = 2**62
ACTOR = Actor.system("pipeline")


@dataclass
class Turn:
    batches: int = 0
    fixes: int = 0
    alerts: int = 0
    devices: list[uuid.UUID] = field(default_factory=list)  # devices whose batches this turn committed

    def add(self, other: Turn) -> None:
        self.batches += other.batches
        self.fixes += other.fixes
        self.alerts += other.alerts
        self.devices += other.devices


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def dt(ms_: int) -> datetime:
    return late.EPOCH + timedelta(milliseconds=int(ms_))


def process_many(container: Container, rules: RuleCache, device_ids: list[uuid.UUID], *, batches_per_turn: int,
                 crash_hook: Callable[[str], None]) -> tuple[Turn, list[uuid.UUID]]:
    """Judge these devices' pending batches in one transaction; returns the turn and the devices
    (claimed here, in the order given) left for the per-device path."""
    turn, later = Turn(), []
    now = container.clock.now()
    with container.uow(ACTOR) as uow:
        s = uow.session
        s.autoflush = False  # one flush at commit rather than one per query
        cursors = claim_many(s, device_ids)
        if not cursors:
            uow.rollback()
            return turn, []
        batches = _pending(s, list(cursors), batches_per_turn)
        protected = proximity.protected_phones(s, list(batches))
        spans: dict[uuid.UUID, list] = {}
        for device_id, subject_id, start, end in s.execute(
                select(Assignment.device_id, Assignment.subject_id, Assignment.starts_at, Assignment.ends_at)
                .where(Assignment.device_id.in_(list(batches)))):
            spans.setdefault(device_id, []).append((subject_id, ms(start), ms(end) if end else FOREVER_MS))
        owner: dict[uuid.UUID, uuid.UUID] = {}  # subject -> the one device of this turn feeding it
        for device_id in list(batches):
            mine = {sid for sid, *_ in spans.get(device_id, ())}
            if device_id in protected or any(owner.get(sid, device_id) != device_id for sid in mine):
                later.append(device_id)
                del batches[device_id]
                continue
            owner |= dict.fromkeys(mine, device_id)
        versions = rules.versioned_many(s, sorted(owner)) if owner else {}
        for sid, v in versions.items():
            if isinstance(v, RulesUnusable) and owner[sid] in batches:  # judged (and alerted) per device
                later.append(owner[sid])
                del batches[owner[sid]]
        subjects = sorted(sid for sid, d in owner.items() if d in batches)
        states = _lock_states(s, subjects, now)
        near, beacons = proximity.context(uow, subjects) if subjects else ({}, None)
        current = {sid: st for sid, (_, st) in states.items()}
        seen: set[str] = set()  # alerts raised in this turn (not flushed yet)
        stopped: set[uuid.UUID] = set()
        processed: dict[uuid.UUID, list[TelemetryBatch]] = {}
        for k in range(batches_per_turn):
            runs, places, judged = [], [], []
            for device_id, bs in batches.items():
                if k >= len(bs) or device_id in stopped:
                    continue
                b = bs[k]
                parts = split(b, spans.get(device_id, ()))
                if any(late.is_late(current[sid], dt(earliest)) for sid, _, _, _, earliest in parts):
                    stopped.add(device_id)  # re-judged from a checkpoint: the per-device path does that
                    later.append(device_id)
                    continue
                for sid, mine, packed, statuses, _ in parts:
                    trail.append(s, subject_id=sid, device_id=device_id, batch_seq=b.seq, cols=mine, packed=packed)
                    runs.append(Run(current[sid], versions[sid].rules, device_id, b.seq, mine, statuses,
                                    near.get(sid, ())))
                    places.append((device_id, b, sid))
                judged.append((device_id, b))
            if not judged:
                break
            crash_hook("trail")
            results = evaluate_many(runs, now, beacons if near else None)
            crash_hook("rules")
            for (device_id, b, sid), run, (state, events) in zip(places, runs, results, strict=True):
                current[sid] = state
                turn.alerts += alerting.raise_events(uow, sid, events, device_id, b.seq, versions[sid], b.received_at,
                                                     seen)
                turn.fixes += len(run.cols)
            for device_id, b in judged:
                b.fixes = None  # moved to the trail; the raw body stays as the evidence
                cursor = cursors[device_id]
                cursor.last_seq = max(cursor.last_seq, b.seq)
                cursor.batches += 1
                turn.batches += 1
                processed.setdefault(device_id, []).append(b)
        touched = {sid: st for sid, st in current.items() if st is not states[sid][1]}
        for sid, state in touched.items():
            save_state(s, sid, states[sid][0], state, now)
        late.save_checkpoints(s, touched)
        done = container.clock.now()  # the end of the turn: when its alerts become visible
        for device_id, bs in processed.items():
            for b in bs:
                b.processed_at = done
            cursors[device_id].updated_at = done
            turn.devices.append(device_id)
        crash_hook("commit")
        uow.commit()
    return turn, list(dict.fromkeys(later))


def claim_many(s: Session, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeviceCursor]:
    """The cursors of the devices no other worker holds, locked until the commit."""
    if not device_ids:
        return {}
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(ins(DeviceCursor).values([dict(device_id=d, last_seq=-1, batches=0) for d in device_ids])
              .on_conflict_do_nothing())
    return {c.device_id: c for c in s.scalars(select(DeviceCursor).where(DeviceCursor.device_id.in_(device_ids))
                                              .order_by(DeviceCursor.device_id).with_for_update(skip_locked=True))}


def _pending(s: Session, device_ids: list[uuid.UUID], limit: int) -> dict[uuid.UUID, list[TelemetryBatch]]:
    """Each device's first `limit` pending batches in seq order (the raw body, the evidence, stays
    in the database); devices in the order given."""
    rank = func.row_number().over(partition_by=TelemetryBatch.device_id, order_by=TelemetryBatch.seq).label("rank")
    first = (select(TelemetryBatch.id, rank).where(TelemetryBatch.device_id.in_(device_ids), pending_batches())
             .subquery())
    out: dict[uuid.UUID, list[TelemetryBatch]] = {d: [] for d in device_ids}
    for b in s.scalars(select(TelemetryBatch).options(defer(TelemetryBatch.raw)).join(first, first.c.id == TelemetryBatch.id)
                       .where(first.c.rank <= limit).order_by(TelemetryBatch.device_id, TelemetryBatch.seq)):
        out[b.device_id].append(b)
    return {d: bs for d, bs in out.items() if bs}


def split(b: TelemetryBatch, spans) -> list[tuple[uuid.UUID, FixColumns, bytes | None, list[dict], int]]:
    """The batch's share for each subject wearing the device at the time of its items:
    (subject, fixes, their stored packing when it is the whole batch, statuses, earliest ms)."""
    cols = segment.unpack(b.fixes) if b.fixes else FixColumns.empty()
    out = []
    for subject_id, lo, hi in spans:
        inside = (cols.t_ms >= lo) & (cols.t_ms < hi)
        whole = bool(inside.all())  # the usual case: the stored packing is the segment
        mine = cols if whole else cols.take(inside)
        statuses = [st for st in b.statuses if lo <= st["t_ms"] < hi]
        if not len(mine) and not statuses:
            continue
        earliest = min(([int(mine.t_ms.min())] if len(mine) else []) + [st["t_ms"] for st in statuses])
        out.append((subject_id, mine, b.fixes if whole else None, statuses, earliest))
    return out


def ensure_states(s: Session, subjects: list[uuid.UUID], now: datetime) -> None:
    """A rule-state row for each subject, so that two writers (one worker's turn, another's tick)
    both lock the one row rather than both insert one and one of them fail at its commit."""
    if subjects:
        ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(ins(MonitorState).values([dict(subject_id=sid, state=SubjectState(str(sid)).to_dict(), updated_at=now)
                                            for sid in subjects]).on_conflict_do_nothing())


def _lock_states(s: Session, subjects: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, tuple[MonitorState | None, SubjectState]]:
    """The subjects' rule states, locked in subject order (two workers never wait on each other in a circle)."""
    ensure_states(s, subjects, now)
    rows = {r.subject_id: r for r in s.scalars(select(MonitorState).where(MonitorState.subject_id.in_(subjects))
                                               .order_by(MonitorState.subject_id).with_for_update())} if subjects else {}
    return {sid: (rows.get(sid), SubjectState.from_dict(rows[sid].state) if sid in rows else SubjectState(str(sid)))
            for sid in subjects}


def load_state(s: Session, subject_id: uuid.UUID, now: datetime) -> tuple[MonitorState | None, SubjectState]:
    ensure_states(s, [subject_id], now)
    row = s.scalars(select(MonitorState).where(MonitorState.subject_id == subject_id).with_for_update()).first()
    return row, SubjectState.from_dict(row.state) if row else SubjectState(subject_id=str(subject_id))


def save_state(s: Session, subject_id: uuid.UUID, row: MonitorState | None, state: SubjectState,
               now: datetime, ticked: bool = False) -> None:
    if row is None:
        s.add(MonitorState(subject_id=subject_id, state=state.to_dict(), updated_at=now,
                           ticked_at=now if ticked else None))
    else:
        row.state, row.updated_at = state.to_dict(), now
        if ticked:
            row.ticked_at = now
