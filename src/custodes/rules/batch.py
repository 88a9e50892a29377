"""Many subjects at once, with the same events as the scalar evaluators.

Hot state (zone hysteresis, last fix, movement episode) lives in numpy columns. A subject whose
batch reaches a curfew instant, a silence, or a curfew-zone change inside an open window goes to
the scalar evaluator with the zone classes already computed, so both paths share one meaning.
Fix ids in a batch are integers (or absent).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules.batch_columns import RuleTable, carried, load_carried, save_states
from custodes.rules.batch_zones import NO_TIME, Atlas, SmallPolygons
from custodes.rules.engine import _pending, evaluate_tick
from custodes.rules.models import (
    Event,
    Fix,
    RuleSet,
    SubjectState,
    ZoneState,
    iso,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
SOURCES = ("gps", "cell", "wifi")
NO_ID = np.iinfo(np.int64).min
END = np.iinfo(np.int64).max


def to_us(at: datetime | None) -> int:
    return NO_TIME if at is None else (at - EPOCH) // US


def from_us(us) -> datetime | None:
    return None if us == NO_TIME else EPOCH + timedelta(microseconds=int(us))


@dataclass
class FixBatch:
    """Fixes of many subjects: `subject` indexes the evaluator's population; times in µs UTC."""

    subject: np.ndarray
    t_us: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy_m: np.ndarray
    fix_id: np.ndarray | None = None
    source: np.ndarray | None = None  # codes into SOURCES; gps when absent

    def __len__(self) -> int:
        return len(self.t_us)

    def take(self, idx) -> FixBatch:
        pick = (lambda a: None if a is None else a[idx])
        return FixBatch(self.subject[idx], self.t_us[idx], self.lat[idx], self.lon[idx], self.accuracy_m[idx],
                        pick(self.fix_id), pick(self.source))

    @classmethod
    def from_fixes(cls, subjects: list[int], fixes: list[Fix]) -> FixBatch:
        return cls(np.asarray(subjects, np.int64), np.array([to_us(f.at) for f in fixes], np.int64),
                   np.array([f.lat for f in fixes]), np.array([f.lon for f in fixes]),
                   np.array([f.accuracy_m for f in fixes]),
                   np.array([NO_ID if f.fix_id is None else int(f.fix_id) for f in fixes], np.int64),
                   np.array([SOURCES.index(f.source) for f in fixes], np.int8))

    def fix(self, j: int) -> Fix:
        fid = None if self.fix_id is None or self.fix_id[j] == NO_ID else int(self.fix_id[j])
        src = "gps" if self.source is None else SOURCES[self.source[j]]
        return Fix(from_us(self.t_us[j]), float(self.lat[j]), float(self.lon[j]), float(self.accuracy_m[j]), src,
                   fix_id=fid)


_UNKNOWN = ZoneState()


class _Registry:
    """Every polygon this process has judged, numbered once, in one atlas rebuilt only when a new
    one appears: an evaluator built for each pipeline turn then costs nothing for its polygons.
    Holding the shapes keeps their ids unique."""

    def __init__(self, build) -> None:
        self._build, self._lock = build, threading.Lock()
        self._index: dict[int, int] = {}
        self._shapes: list = []
        self._built = None

    def number(self, shape) -> int:
        k = self._index.get(id(shape))
        if k is None:
            with self._lock:
                k = self._index.get(id(shape))
                if k is None:
                    k = self._index[id(shape)] = len(self._shapes)
                    self._shapes.append(shape)
                    self._built = None
        return k

    def built(self):
        with self._lock:
            if self._built is None:
                self._built = self._build(list(self._shapes))
            return self._built


_RASTERS = _Registry(Atlas.build)
_SMALL = _Registry(SmallPolygons.build)


def _number_shape(s) -> tuple[int, int]:
    if s.radius is not None:
        return 0, 0
    return (2, _SMALL.number(s)) if s.segs is not None else (1, _RASTERS.number(s))


_TABLE = RuleTable(_number_shape)


class BatchEvaluator:
    """The evaluators over a population: `evaluate(batch, now)` and `tick(now)` return events."""

    def __init__(self, subject_ids: list[str], rulesets: list[RuleSet], states: list[SubjectState] | None = None):
        n = len(subject_ids)
        self.rules = list(rulesets)
        self.states = list(states) if states is not None else [SubjectState(s) for s in subject_ids]
        g = _TABLE.gather(self.rules)
        self.number, self.nzones, self.kind, self.poly, self.circle = g.number, g.nzones, g.kind, g.poly, g.circle
        self.margin, self.dwell, self.curfew_zone, self.exclusion = g.margin, g.dwell, g.curfew_zone, g.exclusion
        self.atlas = _RASTERS.built()
        self.small = _SMALL.built()
        self.max_speed, self.silent_after, self.presence_age = g.max_speed, g.silent_after, g.presence_age
        self.speeds_differ = bool(n and np.any(self.max_speed != self.max_speed[0]))
        self.silences_differ = bool(n and np.any(self.silent_after != self.silent_after[0]))
        k = self.kind.shape[1]
        self.side = np.zeros((n, k), np.int64)
        self.since = np.full((n, k), NO_TIME, np.int64)
        self.pend = np.zeros((n, k), np.int64)
        self.psince = np.full((n, k), NO_TIME, np.int64)
        self.last_t = np.full(n, NO_TIME, np.int64)
        self.last_lat, self.last_lon, self.last_acc = np.zeros(n), np.zeros(n), np.zeros(n)
        self.last_id = np.full(n, NO_ID, np.int64)
        self.last_src = np.zeros(n, np.int64)
        self.implausible = np.zeros(n, bool)
        self.checked_to = np.full(n, NO_TIME, np.int64)
        self.curfew_due = np.full(n, END, np.int64)
        self.open_window = np.zeros(n, bool)
        self.curfew_unsettled = np.zeros(n, bool)  # an open window whose breach state lags the zone
        self.silent = np.zeros(n, bool)
        self.last_status = np.full(n, NO_TIME, np.int64)
        # Window openings decided in columns (one curfew, nothing to raise): the next opening's span,
        # the curfew zone's column, and an opened window not yet written back into states[i].
        self.open_start = np.full(n, NO_TIME, np.int64)
        self.open_end = np.full(n, NO_TIME, np.int64)
        self.curfew_col, self.no_fix_after = g.curfew_col, g.no_fix_after
        self.win_start = np.full(n, NO_TIME, np.int64)
        self.win_end = np.full(n, NO_TIME, np.int64)
        self.win_pending = np.zeros(n, bool)
        self.win_breach = np.zeros(n, bool)  # the opened window starts with a breach (episode 1)
        self.complete = np.zeros(n, bool)  # states[i].zones holds every zone of the rule set
        self.vector_openings = 0  # windows opened in columns rather than by the scalar tick
        self.touched = np.zeros(n, bool)  # columns newer than self.states[i]
        self.exact_pairs = 0  # (fix, polygon) pairs decided exactly rather than by the raster
        self.scalar_runs = 0  # subject batches handed to the scalar path
        self.pairs = 0  # (fix, zone) pairs classified one by one (the rest were judged per subject)
        fast, flat, start = carried(self)
        slow = np.ones(n, bool)
        slow[fast] = False
        for i in np.flatnonzero(slow).tolist():
            self._load(i, self.states[i])
        load_carried(self, fast, flat, start)
        # What states[i].zones says, to rebuild only the zones that moved.
        self.loaded = (self.side.copy(), self.since.copy(), self.pend.copy(), self.psince.copy())

    def _load(self, i: int, st: SubjectState) -> None:
        self.states[i], self.touched[i] = st, False
        r = self.rules[i]
        if r.zones:
            loaded = []
            for z in r.zones:
                zs = st.zones.get(z.zone_id, _UNKNOWN)
                loaded.append((zs.side, to_us(zs.since), zs.pending, to_us(zs.pending_since)))
            k = len(loaded)
            self.side[i, :k], self.since[i, :k], self.pend[i, :k], self.psince[i, :k] = zip(*loaded)
            if hasattr(self, "loaded"):
                for col, now in zip(self.loaded, (self.side, self.since, self.pend, self.psince)):
                    col[i] = now[i]
        self.complete[i] = all(z.zone_id in st.zones for z in r.zones)
        f = st.last_fix
        self.last_t[i] = to_us(f.at if f else None)
        if f is not None:
            self.last_lat[i], self.last_lon[i], self.last_acc[i] = f.lat, f.lon, f.accuracy_m
            self.last_id[i] = NO_ID if f.fix_id is None else int(f.fix_id)
            self.last_src[i] = SOURCES.index(f.source)
        self.implausible[i] = st.implausible
        self.checked_to[i] = to_us(st.curfews_checked_to)
        self.open_start[i] = self.open_end[i] = NO_TIME
        self.win_pending[i] = False
        if r.curfews and st.curfews_checked_to is None:
            self.curfew_due[i] = NO_TIME  # the first evaluation opens windows: scalar path
        else:
            todo = [item for item in _pending(st, r) if item[2] != "silent"]
            first = min(todo, key=lambda item: item[:2]) if todo else None
            self.curfew_due[i] = END if first is None else to_us(first[0])
            if first is not None and first[2] == "open" and len(r.curfews) == 1:
                self.open_start[i], self.open_end[i] = to_us(first[0]), to_us(first[4])
        self.open_window[i] = any(w.open for w in st.windows.values())
        # Outside at a window start on a fix too old to count: the next fix outside starts the
        # breach without any zone change, so such subjects take the scalar path.
        self.curfew_unsettled[i] = any(
            w.open and (w.breach_since is None) == (st.zones.get(c.zone_id, ZoneState()).side == -1)
            for c in r.curfews if (w := st.windows.get(c.curfew_id)) is not None)
        self.silent[i] = st.silent_since is not None
        self.last_status[i] = to_us(st.last_status_at)

    def state(self, i: int) -> SubjectState:
        """The current SubjectState of subject `i` (for persisting), carrying its columns."""
        if self.touched[i]:
            save_states(self, np.array([i]))
        return self.states[i]

    def all_states(self) -> list[SubjectState]:
        """Every subject's current SubjectState, built in bulk (what `state(i)` gives for each i)."""
        save_states(self, np.flatnonzero(self.touched))
        return list(self.states)

    def _last_fix(self, i: int) -> Fix | None:
        if not self.touched[i] or self.last_t[i] == NO_TIME:
            return self.states[i].last_fix
        fid = None if self.last_id[i] == NO_ID else int(self.last_id[i])
        return Fix(from_us(self.last_t[i]), float(self.last_lat[i]), float(self.last_lon[i]), float(self.last_acc[i]),
                   SOURCES[self.last_src[i]], fix_id=fid)

    def tick(self, now: datetime) -> list[Event]:
        now_us = to_us(now)
        seen = np.maximum(self.last_t, self.last_status)
        silent_due = np.where((seen == NO_TIME) | self.silent, END, seen + self.silent_after)
        due = np.minimum(self.curfew_due, silent_due) <= now_us
        events = []
        for i in np.flatnonzero(due):
            st, ev = evaluate_tick(self.state(int(i)), self.rules[i], now)
            self._load(int(i), st)
            events += ev
        # Nothing is due for the others: their checks have simply been made up to `now`.
        rest = ~due & (self.checked_to < now_us)
        self.checked_to[rest] = now_us
        self.touched[rest] = True
        return events

    def evaluate(self, b: FixBatch, now: datetime) -> list[Event]:
        """Events of the batch, by subject (see `evaluate_indexed`)."""
        return [e for _, e in self.evaluate_indexed(b, now)]

    def evaluate_indexed(self, b: FixBatch, now: datetime) -> list[tuple[int, Event]]:
        """(subject, event) pairs of the batch, by subject, each subject's in the order the scalar path gives.

        A subject's fixes at or after its next curfew instant (window start or end, no fix) wait:
        the fixes before it go first, then the instant itself is checked, then the rest, exactly
        what the scalar path does when the first later fix arrives. So a curfew starting for
        the whole population does not send everyone down the scalar path.
        """
        from custodes.rules.batch_fixes import (
            FUTURE_TOLERANCE,
            applicable,
            evaluate_batch,
        )

        if len(b) == 0:
            return []
        b = applicable(self, b, to_us(now) + FUTURE_TOLERANCE // US)
        out: list[tuple[int, Event]] = []
        while b is not None and len(b):
            due = self.curfew_due[b.subject]
            later = (b.t_us >= due) & (due != NO_TIME)  # a first evaluation goes the scalar way
            if not later.any():
                out += evaluate_batch(self, b, now)
                break
            waiting, first_later = np.unique(b.subject[later], return_index=True)
            first_later = b.t_us[np.flatnonzero(later)[first_later]]  # the batch is in (subject, time) order
            before = self.curfew_due[waiting].copy()  # the head below may move a stale instant on
            out += evaluate_batch(self, b.take(np.flatnonzero(~later)), now)
            fast, opened = self._open_windows(waiting, before, first_later)
            out += opened
            for i, at in zip(waiting[~fast], before[~fast]):
                st, ev = evaluate_tick(self.state(int(i)), self.rules[i], from_us(at))
                self._load(int(i), st)
                out += [(int(i), e) for e in ev]
            b = b.take(np.flatnonzero(later))
            if np.all(self.curfew_due[waiting] <= before):  # no instant moved on: let the batch decide
                out += evaluate_batch(self, b, now)
                break
        out.sort(key=lambda x: x[0])  # stable: each subject's events stay in their order
        return out

    def _open_windows(self, waiting: np.ndarray, at: np.ndarray,
                      first_later: np.ndarray) -> tuple[np.ndarray, list[tuple[int, Event]]]:
        """Open, in columns, the windows that start at `at`: one curfew and no silence due first.
        Outside on a fresh fix is a breach from the start (`engine._open`, same event). The
        subjects' next fixes (from `first_later`) all follow, so the no-fix check is dropped when
        one comes before it. Returns which subjects were opened here, and the breaches."""
        seen = np.maximum(self.last_t, self.last_status)[waiting]
        silent_due = np.where((seen == NO_TIME) | self.silent[waiting], END, seen + self.silent_after[waiting])
        col = self.curfew_col[waiting]
        side = self.side[waiting, np.maximum(col, 0)] if self.side.shape[1] else np.zeros(len(waiting), np.int64)
        last = self.last_t[waiting]
        fresh = (last != NO_TIME) & (at - last <= self.presence_age[waiting])
        fast = (self.open_start[waiting] == at) & (col >= 0) & (silent_due > at)
        w, t0 = waiting[fast], at[fast]
        if not w.size:
            return fast, []
        breach = (side == -1)[fast] & fresh[fast]
        end = self.open_end[w]
        no_fix = t0 + self.no_fix_after[w]
        self.win_start[w], self.win_end[w], self.win_pending[w] = t0, end, True
        self.win_breach[w] = breach
        self.open_window[w] = True
        self.curfew_unsettled[w] = (side[fast] == -1) & ~breach  # outside on an old fix: the next fix decides
        self.checked_to[w] = np.maximum(self.checked_to[w], t0)
        self.curfew_due[w] = np.where((no_fix < end) & (first_later[fast] >= no_fix), no_fix, end)
        self.open_start[w] = NO_TIME
        self.touched[w] = True
        self.vector_openings += int(w.size)
        return fast, [(int(i), self._breach_at_start(int(i))) for i in w[breach]]

    def _breach_at_start(self, i: int) -> Event:
        """`engine._breach` for a window opening with the subject outside (reason and key alike)."""
        c = self.rules[i].curfews[0]
        start, end = iso(from_us(self.win_start[i])), iso(from_us(self.win_end[i]))
        fid = None if self.last_id[i] == NO_ID else int(self.last_id[i])
        ev = {"curfew_id": c.curfew_id, "zone_id": c.zone_id, "window_start": start, "window_end": end,
              "reason": "outside_at_window_start", "fix_id": fid, "fix_at": iso(from_us(self.last_t[i])),
              "accuracy_m": float(self.last_acc[i])}
        key = f"{self.states[i].subject_id}:curfew:{c.curfew_id}:{start}:breach:1"
        return Event("curfew_breach_started", "breach", "high", from_us(self.win_start[i]), ev, key)
