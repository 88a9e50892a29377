"""The pipeline: raw batch → validated fixes → trail → rule evaluation → events → alerts.

A turn judges a chunk of devices together (`telemetry.turn`: one rules call a round, one commit);
what that path hands back, and every device of a chunk that failed, goes through `process_device`,
one transaction per device, which finds and quarantines a bad batch. In either, the trail segments, the subject's rule state, the alerts (and
their outbox messages) and the batch's `processed_at` commit together, so a crash between any two
steps leaves the batch pending and the next turn redoes it from the start: nothing lost, nothing
twice. Alert dedupe keys guard the same line a second time. On PostgreSQL each device's cursor row
is taken with SKIP LOCKED, so several workers share the devices without ever processing one device
concurrently; on SQLite the single writer lock does the same.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import defer

from custodes.bootstrap import Container
from custodes.devices.models import Assignment
from custodes.proximity import service as proximity
from custodes.rules import SubjectState
from custodes.rules.batch import BatchEvaluator
from custodes.telemetry import alerting, late, quarantine, scheduled, trail
from custodes.telemetry.evaluation import FIX_ID_BASE, evaluate
from custodes.telemetry.models import MonitorState, TelemetryBatch, pending_batches
from custodes.telemetry.ruleset import RuleCache, RulesUnusable, Versioned
from custodes.telemetry.turn import (ACTOR, FOREVER_MS, Turn, claim_many, dt, load_state, ms, process_many,
                                     save_state, split)

log = logging.getLogger(__name__)
RETRY_FAILED_S = 30.0
DB_BACKOFF_MAX_S = 5.0


class Pipeline:
    def __init__(self, container: Container, *, batches_per_turn: int | None = None, devices_per_turn: int | None = None,
                 crash_hook: Callable[[str], None] | None = None, retry_after_s: float = RETRY_FAILED_S,
                 max_attempts: int = quarantine.MAX_ATTEMPTS) -> None:
        self.container = container
        self.rules = RuleCache()
        # A turn holds SQLite's one write lock, which uploads wait for: keep SQLite turns short.
        sqlite = container.engine.dialect.name == "sqlite"
        self.batches_per_turn = batches_per_turn or (4 if sqlite else 32)
        # Devices judged together in one transaction (one rules call a round, one commit).
        self.devices_per_turn = devices_per_turn or (16 if sqlite else 128)
        self._crash_hook = crash_hook or (lambda step: None)  # tests kill the process at a named step
        self._failing: dict[uuid.UUID, float] = {}
        self._db_backoff: dict[uuid.UUID, float] = {}
        self.retry_after_s, self.max_attempts = retry_after_s, max_attempts
        # A device with a late batch has the rest of its backlog judged in the same turn, up to this many batches.
        self.replay_batches = 256 if sqlite else 2000

    # -- driving ------------------------------------------------------------------------------
    def pending_devices(self, limit: int = 512) -> list[uuid.UUID]:
        with self.container.uow(ACTOR) as uow:
            # Oldest waiting batch first: the device that has waited longest is served first.
            return list(uow.session.scalars(
                select(TelemetryBatch.device_id).where(pending_batches())
                .group_by(TelemetryBatch.device_id).order_by(func.min(TelemetryBatch.id)).limit(limit)))

    def run_once(self) -> Turn:
        total = Turn()
        clock = time.monotonic()
        ready = [d for d in self.pending_devices() if self._failing.get(d, 0) <= clock]
        for lo in range(0, len(ready), self.devices_per_turn):
            chunk = ready[lo:lo + self.devices_per_turn]
            try:
                t, alone = process_many(self.container, self.rules, chunk, batches_per_turn=self.batches_per_turn,
                                        crash_hook=self._crash_hook)
            except Exception as exc:  # nothing of it committed: each device on its own finds the culprit
                log.info("turn over %d devices failed (%s); going device by device", len(chunk),
                         quarantine.one_line(exc))
                t, alone = Turn(), chunk
            for device_id in t.devices:
                self._failing.pop(device_id, None)
                self._db_backoff.pop(device_id, None)
            total.add(t)
            for device_id in alone:
                total.add(self._one_device(device_id, clock))
        return total

    def _one_device(self, device_id: uuid.UUID, clock: float) -> Turn:
        try:
            t = self.process_device(device_id)
        except Exception as exc:
            # One device's bad data or rules must not stall everyone else: nothing of the turn was
            # committed; find the failing batch, count it, and quarantine it at the bound.
            return self._isolate(device_id, exc, clock)
        self._failing.pop(device_id, None)
        self._db_backoff.pop(device_id, None)
        return t

    def _isolate(self, device_id: uuid.UUID, exc: Exception, clock: float) -> Turn:
        """After a failed turn, go one batch at a time: the batches before the culprit commit, the
        culprit's failure is counted (quarantined at `max_attempts`), and the ones after it go on."""
        done = Turn()
        for _ in range(self.batches_per_turn + self.max_attempts):
            if isinstance(exc, OperationalError):  # the database, not the batch: wait, count nothing
                # A short outage (restart, failover, full disk freed) must not park the device for
                # the bad-batch delay: back off from 0.5 s, doubling to 5 s.
                wait = self._db_backoff[device_id] = min(DB_BACKOFF_MAX_S, 2 * self._db_backoff.get(device_id, 0.25))
                log.warning("device %s: database unavailable (%s); retrying in %s s", device_id,
                            quarantine.one_line(exc), wait)
                self._failing[device_id] = clock + wait
                return done
            try:
                t = self.process_device(device_id, limit=1)
            except Exception as again:
                exc = again
                if isinstance(exc, OperationalError):
                    continue
                log.warning("device %s: batch failed: %s", device_id, quarantine.one_line(exc))
                try:
                    if not quarantine.record_failure(self.container, device_id, exc, max_attempts=self.max_attempts):
                        self._failing[device_id] = clock + self.retry_after_s
                        return done
                except Exception:
                    log.exception("recording the failure of device %s failed", device_id)
                    self._failing[device_id] = clock + self.retry_after_s
                    return done
                continue  # quarantined: the device's later batches go on
            if t.batches == 0:
                break
            done.add(t)
        return done

    # -- one device ---------------------------------------------------------------------------
    def process_device(self, device_id: uuid.UUID, limit: int | None = None) -> Turn:
        turn = Turn()
        now = self.container.clock.now()
        with self.container.uow(ACTOR) as uow:
            s = uow.session
            cursor = claim_many(s, [device_id]).get(device_id)
            if cursor is None:  # another worker is on this device right now
                return turn
            batches = self._pending(s, device_id, limit or self.batches_per_turn)
            if not batches:
                uow.rollback()
                return turn
            spans = s.execute(select(Assignment.subject_id, Assignment.starts_at, Assignment.ends_at)
                              .where(Assignment.device_id == device_id)).all()
            # Victim proximity (custodes.proximity owns it): a protected person's phone feeds no
            # trail, and the subjects' proximity rules get the protected positions they need.
            spans, near = proximity.pipeline_turn(uow, device_id, batches, spans)
            shares = [(sid, ms(start), ms(end) if end else FOREVER_MS) for sid, start, end in spans]
            states: dict[uuid.UUID, tuple[MonitorState | None, SubjectState]] = {}
            more = limit is None and len(batches) == self.batches_per_turn
            if more and self._any_late(s, batches, shares, states, now):
                # A late batch is judged again on all the data of its subject. With more of the device's
                # batches stored behind this turn's (a backlog), judging it on this turn's share only
                # would decide silence and curfews on a trail the next turn is about to fill in.
                batches = self._pending(s, device_id, self.replay_batches)
            rulesets: dict[uuid.UUID, Versioned] = {}
            s.autoflush = False  # one flush at commit rather than one per query
            frontiers: dict[uuid.UUID, SubjectState] = {}
            turn_statuses: dict[uuid.UUID, list[tuple[int, dict]]] = {}
            # subject -> (its state before its first late batch, the earliest item from there on, that batch)
            replaying: dict[uuid.UUID, tuple[SubjectState, int, TelemetryBatch]] = {}
            seen: set[str] = set()  # alerts raised in this turn (not flushed yet)
            for b in batches:
                for subject_id, mine, packed, my_status, earliest in split(b, shares):
                    trail.append(s, subject_id=subject_id, device_id=device_id, batch_seq=b.seq, cols=mine,
                                 packed=packed)
                    self._crash_hook("trail")
                    row, state = states.get(subject_id) or load_state(s, subject_id, now)
                    rules = rulesets.get(subject_id) or rulesets.setdefault(subject_id,
                                                                            self.rules.versioned(s, subject_id))
                    turn_statuses.setdefault(subject_id, []).extend((b.seq, st) for st in my_status)
                    if subject_id in replaying:  # judged with the rest in the one replay below
                        old, lo, first = replaying[subject_id]
                        replaying[subject_id] = (old, min(lo, earliest), first)
                    elif late.is_late(state, dt(earliest)):  # judged again from before its own time
                        replaying[subject_id] = (state, earliest, b)
                    else:
                        state, events = evaluate(state, rules.rules, now, device_id, b.seq, mine, my_status,
                                                 **near.get(subject_id, {}))
                        frontiers[subject_id] = state
                        self._crash_hook("rules")
                        turn.alerts += alerting.raise_events(uow, subject_id, events, device_id, b.seq, rules,
                                                             b.received_at, seen)
                    states[subject_id] = (row, state)
                    turn.fixes += len(mine)
                b.fixes = None  # moved to the trail; the raw body stays as the evidence
                cursor.last_seq = max(cursor.last_seq, b.seq)
                cursor.batches += 1
                turn.batches += 1
            # Once, after every batch of the turn is on the trail: a replay per late batch would judge
            # each on the batches before it only (seen: a chain of device_silent alerts, each raised
            # and superseded by the next batch of a backlog in the same turn).
            by_seq = {b.seq: b for b in batches}
            for subject_id, (old, lo, first) in replaying.items():
                row, rules = states[subject_id][0], rulesets[subject_id]
                r = late.replay(s, subject_id, rules.rules, now, dt(lo), old, turn_statuses[subject_id])
                late.supersede(uow, subject_id, r.since, {e.dedupe_key for e in r.events},
                               f"{device_id}/{first.seq}", first.received_at)
                states[subject_id], frontiers[subject_id] = (row, r.state), r.frontier_state
                self._crash_hook("rules")
                for b, events in _by_batch(r.events, by_seq, first).items():
                    turn.alerts += alerting.raise_events(uow, subject_id, events, device_id, b.seq, rules,
                                                         b.received_at, seen)
            for subject_id, (row, state) in states.items():
                if subject_id in frontiers:  # fed by this turn
                    save_state(s, subject_id, row, state, now)
                    late.save_checkpoint(s, subject_id, frontiers[subject_id])
            done = self.container.clock.now()  # the end of the turn: when its alerts become visible
            for b in batches:
                b.processed_at = done
            cursor.updated_at = done
            self._crash_hook("commit")
            uow.commit()
        return turn

    @staticmethod
    def _pending(s, device_id: uuid.UUID, limit: int) -> list[TelemetryBatch]:
        # The raw body (the evidence, ~100 bytes a fix) is not needed here: leave it in the database.
        return list(s.scalars(select(TelemetryBatch).options(defer(TelemetryBatch.raw))
                              .where(TelemetryBatch.device_id == device_id, pending_batches())
                              .order_by(TelemetryBatch.seq).limit(limit)))

    @staticmethod
    def _any_late(s, batches: list[TelemetryBatch], shares, states: dict, now) -> bool:
        """Would a batch of these be late for its subject (not newer than what the subject's state, or
        the batches before it, have seen)? Loads (and locks) the states of the subjects fed, into `states`."""
        reached: dict[uuid.UUID, int] = {}
        for b in batches:
            for subject_id, mine, _, my_status, earliest in split(b, shares):
                if subject_id not in states:
                    states[subject_id] = load_state(s, subject_id, now)
                f = late.frontier(states[subject_id][1])
                if (f is not None and earliest <= ms(f)) or earliest <= reached.get(subject_id, -(2**62)):
                    return True
                latest = max(([int(mine.t_ms.max())] if len(mine) else []) + [st["t_ms"] for st in my_status])
                reached[subject_id] = max(reached.get(subject_id, latest), latest)
        return False

    def warm(self) -> int:
        """Compile the rule sets of everyone wearing a device now (zone rasters cost up to ~0.3 s
        per large polygon, once per process), so the first batch after a restart is not slow."""
        now = self.container.clock.now()
        with self.container.uow(ACTOR) as uow:
            s = uow.session
            subjects = s.scalars(select(Assignment.subject_id).where(
                Assignment.starts_at <= now, (Assignment.ends_at.is_(None)) | (Assignment.ends_at > now)).distinct()).all()
            for subject_id in subjects:
                try:
                    BatchEvaluator([str(subject_id)], [self.rules.get(s, subject_id)])
                except RulesUnusable as exc:  # judged (and alerted) by the pipeline and the ticks
                    log.warning("%s", exc)
        return len(subjects)

    # -- scheduled checks ---------------------------------------------------------------------
    def tick(self, limit: int = 1000) -> Turn:
        """The scheduled checks of everyone wearing a device (`telemetry.scheduled`), `limit` subjects a transaction."""
        return scheduled.tick(self.container, self.rules, limit)


def _by_batch(events, by_seq: dict[int, TelemetryBatch], first: TelemetryBatch) -> dict[TelemetryBatch, list]:
    """A replay's events, each with the batch of this turn that carried its fix (its receive time is
    the one the late note gives); events of no fix of this turn go with the first late batch."""
    out: dict[TelemetryBatch, list] = {}
    for e in events:
        fid = e.evidence.get("fix_id")
        b = by_seq.get(fid // FIX_ID_BASE, first) if isinstance(fid, int) else first
        out.setdefault(b, []).append(e)
    return out
