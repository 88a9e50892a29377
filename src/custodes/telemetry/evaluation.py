"""Feeding one batch to the rules engine: fixes and status reports in their own time order.

Runs of fixes go through the vectorised `BatchEvaluator`, cut at each curfew instant; status
reports go through `evaluate_status` at their place in time. Same events and state as feeding the
scalar evaluators one item at a time (tests/telemetry/test_evaluation.py), a fraction of the cost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules import (
    Event,
    RuleSet,
    StatusReport,
    SubjectState,
    evaluate_status,
    evaluate_tick,
    next_due,
)
from custodes.rules.batch import BatchEvaluator, FixBatch
from custodes.rules.engine import FUTURE_TOLERANCE
from custodes.rules.proximity import Beacons, ProximityRule, evaluate_proximity
from custodes.telemetry.schemas import FixColumns

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))  # exact, where ms / 1000 as a float is not


FIX_ID_BASE = 100_000  # > MAX_ITEMS: a fix id packs (batch seq, item index) into one integer


def fix_id(seq: int, index: int) -> int:
    return seq * FIX_ID_BASE + index


def fix_ref(device_id: uuid.UUID, fid: int) -> str:
    """The readable form of a fix id: device/batch-seq/item-index, pointing into the raw batch."""
    return f"{device_id}/{fid // FIX_ID_BASE}/{fid % FIX_ID_BASE}"


def evaluate(state: SubjectState, rules: RuleSet, now: datetime, device_id: uuid.UUID, seq: int | np.ndarray,
             cols: FixColumns, statuses: list[dict], *, proximity: tuple[ProximityRule, ...] = (),
             beacons: Beacons | None = None) -> tuple[SubjectState, list[Event]]:
    """Feed one batch's items (or a replay's, with `seq` per fix) to the evaluators in time order.

    Runs of fixes go through the rules engine's vectorised `BatchEvaluator` (same events as the
    scalar path, at a small fraction of the cost); each status report goes through `evaluate_status`
    at its place in time. Proximity rules (with the protected people's `beacons`) come last.
    """
    if proximity and beacons is not None and np.ndim(seq) == 0 and len(cols):
        current: dict[str, SubjectState] = {}
        near = _proximity([Run(state, rules, device_id, int(seq), cols, statuses, proximity)], [0], current, now,
                          beacons)
        state, ev = evaluate(current.get(state.subject_id, state), rules, now, device_id, seq, cols, statuses)
        return state, ev + near.get(0, [])
    order = np.argsort(cols.t_ms, kind="stable")
    seqs = np.broadcast_to(np.asarray(seq, np.int64), (len(cols),))[order]
    cols = cols.take(order)
    st_sorted = sorted(statuses, key=lambda st: st["t_ms"])
    # Status i comes before the fixes at or after its time (ties: status first, like the device).
    cuts = np.searchsorted(cols.t_ms, [st["t_ms"] for st in st_sorted], side="left").tolist()
    events: list[Event] = []
    lo = 0
    for cut, st in zip([*cuts, len(cols)], [*st_sorted, None], strict=True):
        if cut > lo:
            state, ev = _fix_run(state, rules, now, seqs[lo:cut], cols.take(slice(lo, cut)))
            events += ev
            lo = cut
        if st is not None:
            report = StatusReport(_dt(st["t_ms"]), st["battery_pct"], st["strap"], st["charging"],
                                  st.get("signal_dbm"))
            state, ev = evaluate_status(state, report, rules, now)
            events += ev
    return state, events


def _fix_run(state: SubjectState, rules: RuleSet, now: datetime, seq: np.ndarray,
             c: FixColumns) -> tuple[SubjectState, list[Event]]:
    """A time-ordered run of fixes. The batch evaluator hands a whole run to the (much slower)
    scalar path when it reaches a curfew instant, so the run is cut at each instant and the
    scheduled checks are made at that instant first, exactly what the scalar path would do
    when the next fix arrives (events carry their own instants, so the result is the same)."""
    events: list[Event] = []
    ids = fix_id(seq, c.index.astype(np.int64))
    t_us = c.t_ms.astype(np.int64) * 1000
    lo, n, last_due = 0, len(c), None
    while lo < n:
        if state.curfews_checked_to is None:  # first evaluation ever: open the windows we are in
            state, ev = evaluate_tick(state, rules, _dt(int(c.t_ms[lo])))
            events += ev
        due = next_due(state, rules, silence=False)
        if due is not None and last_due is not None and due <= last_due:
            due = None  # the instant did not move on: let the batch evaluator decide the rest itself
        last_due = due
        hi = n if due is None else max(lo, int(np.searchsorted(t_us, _us(due), side="left")))
        hi = min(hi, n)
        if hi > lo:
            ev = BatchEvaluator([state.subject_id], [rules], [state])
            events += ev.evaluate(FixBatch(np.zeros(hi - lo, np.int64), t_us[lo:hi], c.lat[lo:hi], c.lon[lo:hi],
                                           c.accuracy_m[lo:hi].astype(np.float64), ids[lo:hi],
                                           c.source[lo:hi].astype(np.int8)), now)
            state = ev.state(0)
        if hi < n:
            state, ev = evaluate_tick(state, rules, due)  # the curfew instant, before the fixes after it
            events += ev
        lo = hi
    return state, events


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


@dataclass
class Run:
    """One subject's share of one batch in a pipeline turn (what `evaluate` takes, as a value)."""

    state: SubjectState
    rules: RuleSet
    device_id: uuid.UUID
    seq: int
    cols: FixColumns
    statuses: list[dict]
    proximity: tuple[ProximityRule, ...] = ()  # moving exclusion zones around protected people


def evaluate_many(runs: list[Run], now: datetime,
                  beacons: Beacons | None = None) -> list[tuple[SubjectState, list[Event]]]:
    """Many devices' batches of one turn in one vectorised rules call; results in `runs` order.

    The engine `bench rules` measures as "as called by the pipeline". A subject's runs are applied
    in the order given (round k holds every subject's k-th run). Runs with status reports, and a
    subject's first evaluation ever, go through `evaluate` (statuses interleave with fixes in time).
    Each subject's events are those `evaluate` gives (tests/telemetry/test_evaluation.py), then
    its proximity events, judged over every run of the round at once against `beacons` (the
    protected people's latest positions).
    """
    out: list[tuple[SubjectState, list[Event]] | None] = [None] * len(runs)
    current: dict[str, SubjectState] = {}
    sids = [r.state.subject_id for r in runs]
    rounds: list[list[int]] = [list(range(len(runs)))] if len(set(sids)) == len(sids) else []
    seen: dict[str, int] = {}
    for k, sid in enumerate(sids if not rounds else ()):
        n = seen.get(sid, 0)
        seen[sid] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(k)
    several = len(rounds) > 1  # `current` carries a subject's state from one round to the next
    for members in rounds:
        near = _proximity(runs, members, current, now, beacons) if beacons is not None else {}
        ks, sts = [], []
        for k in members:
            r = runs[k]
            state = current.get(r.state.subject_id, r.state) if current else r.state
            if r.statuses or state.curfews_checked_to is None or not len(r.cols.t_ms):
                new, ev_ = evaluate(state, r.rules, now, r.device_id, r.seq, r.cols, r.statuses)
                out[k] = (new, ev_ + near.get(k, []))
                current[state.subject_id] = new
            else:
                ks.append(k)
                sts.append(state)
        if not ks:
            continue
        vruns = [runs[k] for k in ks]
        ev = BatchEvaluator([st.subject_id for st in sts], [r.rules for r in vruns], sts)
        cols = [r.cols for r in vruns]
        t_ms = [c.t_ms for c in cols]
        counts = np.fromiter(map(len, t_ms), np.int64, len(cols))
        seqs = np.fromiter((r.seq for r in vruns), np.int64, len(vruns))
        batch = FixBatch(np.repeat(np.arange(len(ks)), counts),
                         np.concatenate(t_ms).astype(np.int64) * 1000,
                         np.concatenate([c.lat for c in cols]), np.concatenate([c.lon for c in cols]),
                         np.concatenate([c.accuracy_m for c in cols]).astype(np.float64),
                         np.repeat(seqs * FIX_ID_BASE, counts) + np.concatenate([c.index for c in cols]),
                         np.concatenate([c.source for c in cols]).astype(np.int8))
        events: dict[int, list[Event]] = {}
        for i, e in ev.evaluate_indexed(batch, now):
            events.setdefault(i, []).append(e)
        for i, (k, new) in enumerate(zip(ks, ev.all_states())):
            got = events.get(i) or []
            if near and k in near:
                got = got + near[k]
            out[k] = (new, got)
            if several:
                current[new.subject_id] = new
    return out  # type: ignore[return-value]


def _proximity(runs: list[Run], members: list[int], current: dict[str, SubjectState], now: datetime,
               beacons: Beacons) -> dict[int, list[Event]]:
    """The round's proximity rules over all its fixes at once; moves `current` on, returns events by run."""
    ks = [k for k in members if runs[k].proximity and len(runs[k].cols)]
    if not ks:
        return {}
    states = [current.get(runs[k].state.subject_id, runs[k].state) for k in ks]
    limit = (now - EPOCH + FUTURE_TOLERANCE) // timedelta(microseconds=1)
    cols = [runs[k].cols for k in ks]
    counts = np.fromiter((len(c.t_ms) for c in cols), np.int64, len(cols))
    grp = np.repeat(np.arange(len(ks)), counts)
    t = np.concatenate([c.t_ms for c in cols]).astype(np.int64) * 1000
    after = np.fromiter((-1 if st.last_fix is None else (st.last_fix.at - EPOCH) // timedelta(microseconds=1)
                         for st in states), np.int64, len(states))
    order = np.lexsort((t, grp))  # stable: per run, what argsort(kind="stable") gives
    t_sorted, g_sorted = t[order], grp[order]
    ok = (t_sorted > after[g_sorted]) & (t_sorted <= limit)
    ok[1:] &= (g_sorted[1:] != g_sorted[:-1]) | (t_sorted[1:] > t_sorted[:-1])  # duplicates: the first only
    pick = order[ok]
    seqs = np.fromiter((runs[k].seq for k in ks), np.int64, len(ks))
    ids = np.repeat(seqs * FIX_ID_BASE, counts) + np.concatenate([c.index for c in cols])
    cat = [grp[pick], t[pick], np.concatenate([c.lat for c in cols])[pick],
           np.concatenate([c.lon for c in cols])[pick],
           np.concatenate([c.accuracy_m for c in cols]).astype(np.float64)[pick], ids[pick]]
    new, events = evaluate_proximity(states, [runs[k].proximity for k in ks], *cat, beacons)
    for k, st in zip(ks, new):
        current[st.subject_id] = st
    return {k: e for k, e in zip(ks, events) if e}
