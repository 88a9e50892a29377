"""Rule sets and subject states as columns, so that an evaluator built for one pipeline turn costs
next to nothing per subject.

Every rule set this process evaluates is numbered once in `RuleTable`: its zones become rows of
flat arrays (a CSR mapping rule set -> zones), so gathering a turn's rules is one fancy index.
A state the batch path produced carries its own columns (`SubjectState.columns`, dropped by any
`evolve`), so the next turn loads it without walking its zones or its curfews again: exactly what
an evaluator kept alive between the turns would hold.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules.models import Fix, RuleSet, SubjectState, WindowState, ZoneState

US = timedelta(microseconds=1)
# State columns a state carries (SubjectState.columns: int64 words: rule set generation and number,
# these, the floats, then (side, since, pending, pending since) per zone), in this order.
INT_COLUMNS = ("last_t", "last_id", "last_src", "implausible", "checked_to", "curfew_due", "open_window",
               "curfew_unsettled", "silent", "last_status", "open_start", "open_end", "complete")
FLOAT_COLUMNS = ("last_lat", "last_lon", "last_acc")
_RESET_AT = 2_000_000  # rule sets: beyond this the table starts afresh (superseded rule sets leave)


@dataclass
class Gathered:
    """A turn's rules in columns: per (subject, zone slot) and per subject."""

    number: np.ndarray  # (generation, rule set number) per subject: what carried columns must match
    nzones: np.ndarray
    kind: np.ndarray  # -1 no zone, 0 circle, 1 raster polygon, 2 small polygon
    poly: np.ndarray
    circle: np.ndarray  # (5, n, k): lat0, lon0, kx, ky, radius
    margin: np.ndarray
    dwell: np.ndarray
    curfew_zone: np.ndarray
    exclusion: np.ndarray
    max_speed: np.ndarray
    silent_after: np.ndarray
    presence_age: np.ndarray
    curfew_col: np.ndarray  # the curfew zone's slot when the rule set has exactly one curfew, else -1
    no_fix_after: np.ndarray


class RuleTable:
    """Every rule set this process has judged, numbered once; holding them keeps their ids unique."""

    def __init__(self, number_shape) -> None:
        self._number_shape = number_shape  # shape -> (kind, polygon number)
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.generation = getattr(self, "generation", 0) + 1
        self._index: dict[int, int] = {}
        self._rules: list[RuleSet] = []
        self._zf = np.zeros((1024, 6))  # lat0, lon0, kx, ky, radius, margin
        self._zi = np.zeros((1024, 5), np.int64)  # kind, poly, dwell, curfew zone, exclusion
        self._rf = np.zeros((256, 1))  # max speed
        self._ri = np.zeros((256, 6), np.int64)  # zone start, zones, silent after, presence age, curfew col, no fix
        self._nz = 0

    def _add(self, r: RuleSet) -> int:
        k = len(self._rules)
        if k >= len(self._ri):
            self._ri = np.resize(self._ri, (2 * len(self._ri), 6))
            self._rf = np.resize(self._rf, (2 * len(self._rf), 1))
        z = len(r.compiled)
        while self._nz + z > len(self._zi):
            self._zi = np.resize(self._zi, (2 * len(self._zi), 5))
            self._zf = np.resize(self._zf, (2 * len(self._zf), 6))
        cz_ids = r.curfew_zone_ids()
        for j, cz in enumerate(r.compiled):
            s = cz.shape
            kind, poly = self._number_shape(s)
            circle = (s.lat0, s.lon0, s.kx, s.ky, s.radius) if s.radius is not None else (0.0,) * 5
            self._zf[self._nz + j] = (*circle, cz.rule.margin_m)
            self._zi[self._nz + j] = (kind, poly, timedelta(seconds=cz.rule.min_dwell_s) // US,
                                      cz.rule.zone_id in cz_ids, cz.rule.kind == "exclusion")
        col = -1
        if len(r.curfews) == 1:
            c = r.curfews[0]
            col = next(j for j, zr in enumerate(r.zones) if zr.zone_id == c.zone_id)
            no_fix = timedelta(seconds=c.no_fix_after_s) // US
        else:
            no_fix = 0
        self._ri[k] = (self._nz, z, timedelta(seconds=r.silent_after_s) // US,
                       timedelta(seconds=r.presence_max_age_s) // US, col, no_fix)
        self._rf[k] = r.max_speed_mps
        self._nz += z
        self._rules.append(r)
        self._index[id(r)] = k
        return k

    def gather(self, rulesets: list[RuleSet]) -> Gathered:
        with self._lock:
            if len(self._rules) > _RESET_AT:
                self._clear()
            index, add = self._index, self._add
            rid = np.fromiter(((k if (k := index.get(id(r))) is not None else add(r)) for r in rulesets),
                              np.int64, len(rulesets))
            ri, rf = self._ri[rid], self._rf[rid, 0]
            nz = ri[:, 1]
            k = int(nz.max()) if len(nz) else 0
            slot = np.arange(k)
            valid = slot[None, :] < nz[:, None]
            at = np.where(valid, ri[:, :1] + slot[None, :], 0)
            zi, zf = self._zi[at], self._zf[at]  # (n, k, 5), (n, k, 6)
        zi[~valid] = 0
        zf[~valid] = 0.0
        kind = np.where(valid, zi[..., 0], -1).astype(np.int8)
        number = np.stack([np.full(len(rid), self.generation, np.int64), rid], axis=1)
        return Gathered(number, nz, kind, zi[..., 1].copy(), np.moveaxis(zf[..., :5], 2, 0).copy(), zf[..., 5].copy(),
                        zi[..., 2].copy(), zi[..., 3].astype(bool), zi[..., 4].astype(bool), rf,
                        ri[:, 2].copy(), ri[:, 3].copy(), ri[:, 4].copy(), ri[:, 5].copy())


NO_TIME = np.iinfo(np.int64).min
NO_ID = np.iinfo(np.int64).min
SOURCES = ("gps", "cell", "wifi")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(us: int) -> datetime | None:
    return None if us == NO_TIME else EPOCH + timedelta(microseconds=us)


HEAD = 2 + len(INT_COLUMNS) + len(FLOAT_COLUMNS)  # int64 words before the zones' (side, since, pend, psince)


def carried(ev) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subjects whose states carry columns of this very rule set (bytes of int64 words), with
    those words joined (one `bytes` for all) and where each subject's start in them."""
    cols = [st.columns for st in ev.states]
    sizes = np.fromiter((0 if c is None else len(c) for c in cols), np.int64, len(cols))
    idx = np.flatnonzero(sizes == 8 * (HEAD + 4 * ev.nzones))
    if not idx.size:
        return idx, np.zeros(0, np.int64), idx
    flat = np.frombuffer(b"".join([cols[i] for i in idx.tolist()]), np.int64)
    words = sizes[idx] // 8
    start = np.cumsum(words) - words
    same = (flat[start] == ev.number[idx, 0]) & (flat[start + 1] == ev.number[idx, 1])
    return idx[same], flat, start[same]


def load_carried(ev, idx: np.ndarray, flat: np.ndarray, start: np.ndarray) -> None:
    """Load, in bulk, the subjects whose states carry the columns this batch path left them
    (`carried`'s answer)."""
    if not idx.size:
        return
    nz = ev.nzones[idx]
    head = flat[start[:, None] + np.arange(HEAD)[None, :]]
    for j, name in enumerate(INT_COLUMNS):
        getattr(ev, name)[idx] = head[:, 2 + j]
    floats = head[:, 2 + len(INT_COLUMNS):].view(np.float64)
    for j, name in enumerate(FLOAT_COLUMNS):
        getattr(ev, name)[idx] = floats[:, j]
    k = ev.kind.shape[1]
    if k:
        valid = np.arange(k)[None, :] < nz[:, None]
        at = start[:, None] + HEAD + 4 * np.arange(k)[None, :]
        for j, col in enumerate((ev.side, ev.since, ev.pend, ev.psince)):
            col[idx] = np.where(valid, flat[np.where(valid, at + j, 0)], col[idx])


# Slot setters, in field order (a slots dataclass's __slots__ are its fields).
_STATE_SLOTS = tuple(getattr(SubjectState, name).__set__ for name in SubjectState.__slots__)
_FIX_SLOTS = tuple(getattr(Fix, name).__set__ for name in Fix.__slots__)
assert SubjectState.__slots__[-1] == "columns" and len(_STATE_SLOTS) == 13 and len(_FIX_SLOTS) == 7


def save_states(ev, idx: np.ndarray) -> None:
    """Write the columns of subjects `idx` back into their states (each carrying its columns)."""
    if not idx.size:
        return
    k = ev.kind.shape[1]
    nz = ev.nzones[idx]
    valid = np.arange(k)[None, :] < nz[:, None]
    now = (ev.side[idx], ev.since[idx], ev.pend[idx], ev.psince[idx])
    moved = np.zeros((idx.size, k), bool)
    for a, b in zip(now, ev.loaded):
        moved |= a != b[idx]
    moved &= valid
    has_fix = ev.last_t[idx] != NO_TIME
    rebuild = (moved.any(axis=1) | ~ev.complete[idx]) & has_fix
    complete = ev.complete[idx] | has_fix
    ints = np.stack([ev.last_t[idx], ev.last_id[idx], ev.last_src[idx], ev.implausible[idx], ev.checked_to[idx],
                     ev.curfew_due[idx], ev.open_window[idx], ev.curfew_unsettled[idx], ev.silent[idx],
                     ev.last_status[idx], ev.open_start[idx], ev.open_end[idx], complete], axis=1)
    floats = np.stack([ev.last_lat[idx], ev.last_lon[idx], ev.last_acc[idx]], axis=1)
    zone_words = np.stack(now, axis=2).reshape(idx.size, 4 * k)
    words = np.concatenate([ev.number[idx], ints, floats.view(np.int64), zone_words], axis=1)
    size = (HEAD + 4 * nz) * 8
    wide = 8 * words.shape[1]
    blob = words.tobytes()
    # One list per column, not one per subject: fewer objects for the collector to track.
    cols = [ev.last_t[idx].tolist(), ev.last_id[idx].tolist(), ev.last_src[idx].tolist(),
            ev.implausible[idx].tolist(), ev.checked_to[idx].tolist(),
            ev.last_lat[idx].tolist(), ev.last_lon[idx].tolist(), ev.last_acc[idx].tolist()]
    # Zone words as Python ints only for the subjects whose zones are rebuilt.
    again_rows = np.flatnonzero(rebuild)
    zflat = np.stack(now, axis=2)[again_rows].reshape(-1).tolist()
    zoff = np.zeros(idx.size, np.int64)
    zoff[again_rows] = np.arange(again_rows.size) * 4 * k
    pending = ev.win_pending[idx].tolist()
    states, rules_of, epoch, us = ev.states, ev.rules, EPOCH, US
    new_obj = object.__new__
    s_id, s_fix, s_zones, s_windows, s_checked, s_battery, s_strap, s_charging, s_status, s_silent, s_impl, \
        s_decided, s_columns = _STATE_SLOTS
    f_at, f_lat, f_lon, f_acc, f_src, f_speed, f_id = _FIX_SLOTS
    # Built slot by slot: the same values as SubjectState(...) and Fix.trusted(...), at half the cost
    # (a frozen dataclass's __init__ goes through object.__setattr__ once per field).
    for q, (i, last_t, last_id, src, impl, checked_t, lat, lon, acc, lo, again, nb) in enumerate(zip(
            idx.tolist(), *cols, zoff.tolist(), rebuild.tolist(), size.tolist())):
        st = states[i]
        zones = st.zones
        if again:
            zones = _rebuilt(zones, rules_of[i], moved[q], zflat, lo)
        if last_t == NO_TIME:
            last, at = st.last_fix, None
        else:
            at = epoch + us * last_t
            last = new_obj(Fix)
            f_at(last, at)
            f_lat(last, lat)
            f_lon(last, lon)
            f_acc(last, acc)
            f_src(last, SOURCES[src])
            f_speed(last, None)
            f_id(last, None if last_id == NO_ID else last_id)
        windows, decided = st.windows, st.decided_to
        if pending[q]:
            windows, decided = _opened(ev, i, windows, decided)
        new = new_obj(SubjectState)
        s_id(new, st.subject_id)
        s_fix(new, last)
        s_zones(new, zones)
        s_windows(new, windows)
        s_checked(new, None if checked_t == NO_TIME else at if checked_t == last_t else epoch + us * checked_t)
        s_battery(new, st.battery)
        s_strap(new, st.strap)
        s_charging(new, st.charging)
        s_status(new, st.last_status_at)
        s_silent(new, st.silent_since)
        s_impl(new, impl)
        s_decided(new, decided)
        s_columns(new, blob[q * wide: q * wide + nb])
        states[i] = new
    ev.touched[idx] = False
    ev.win_pending[idx] = False
    ev.complete[idx] = complete
    for a, b in zip(now, ev.loaded):
        b[idx] = a


def _rebuilt(zones: dict, rules: RuleSet, moved: np.ndarray, zflat: list, lo: int) -> dict:
    """The zone states from the columns; an unmoved zone keeps its object. Other keys (proximity
    rules) are kept as they are."""
    zones = dict(zones)
    for j, z in enumerate(rules.zones):
        if moved[j] or z.zone_id not in zones:
            sd, sn, pd, ps = zflat[lo + 4 * j: lo + 4 * j + 4]
            zones[z.zone_id] = ZoneState(sd, _at(sn), pd, _at(ps))
    return zones


def _opened(ev, i: int, windows: dict, decided):
    """A window opened in columns (`BatchEvaluator._open_windows`), written into the state."""
    start, end = _at(int(ev.win_start[i])), _at(int(ev.win_end[i]))
    w = WindowState(start, end, start, 1) if ev.win_breach[i] else WindowState(start, end)
    return {**windows, ev.rules[i].curfews[0].curfew_id: w}, start if decided is None else max(decided, start)
