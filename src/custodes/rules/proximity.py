"""Victim proximity: a protected person's latest position as a moving exclusion zone, vectorised.

A monitored fix is compared only with the protected person's position from close to the same
moment (`max_skew_s`); the uncertainty is both accuracies plus how far the protected person may
have walked in the skew. "Inside" only when surely within the radius, "outside" only when surely
beyond it, else no change; the same hysteresis (`batch_zones.hysteresis`) as fixed zones. An event
carries the distance, never the protected person's position or time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules.batch_zones import NO_TIME, hysteresis
from custodes.rules.models import Event, SubjectState, ZoneState, iso
from custodes.rules.movement import haversine_m

PREFIX = "proximity:"  # the rule's hysteresis lives in SubjectState.zones under this key prefix
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@dataclass(frozen=True)
class ProximityRule:
    rule_id: str
    protected_id: str  # the protected person's record (their phone's positions are keyed by it)
    radius_m: float
    max_skew_s: float = 180.0  # a fix is judged only against a position at most this far in time
    min_dwell_s: float = 60.0
    drift_mps: float = 1.5  # walking pace: how far the protected person may move during the skew

    def __post_init__(self) -> None:
        if not (0 < self.radius_m <= 50_000 and 0 < self.max_skew_s <= 600 and self.min_dwell_s >= 0
                and self.drift_mps >= 0):
            raise ValueError("proximity rule out of bounds (radius 0-50 km, skew up to 10 min)")


@dataclass
class Beacons:
    """The latest position per protected person (overwritten, never a trail); times in µs UTC."""

    index: dict[str, int]
    t_us: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy_m: np.ndarray

    @classmethod
    def of(cls, latest: dict[str, tuple[int, float, float, float]]) -> Beacons:
        keys = list(latest)
        rows = np.array([latest[k] for k in keys], float).reshape(-1, 4)
        return cls({k: i for i, k in enumerate(keys)}, rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2], rows[:, 3])


def _us(at):
    return NO_TIME if at is None else (at - EPOCH) // US


def _dt(us):
    return None if us == NO_TIME else EPOCH + timedelta(microseconds=int(us))


def evaluate_proximity(states: list[SubjectState], rules: list[tuple[ProximityRule, ...]], subject: np.ndarray,
                       t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, acc: np.ndarray,
                       fix_ids: np.ndarray | None, beacons: Beacons) -> tuple[list[SubjectState], list[list[Event]]]:
    """Fixes (in (subject, time) order, already the applicable ones) against each subject's rules.

    Returns every subject's state with its proximity hysteresis moved on, and its events.
    """
    n = len(states)
    events: list[list[Event]] = [[] for _ in range(n)]
    pr_s, pr_r = [], []
    for i, rs in enumerate(rules):
        for r in rs:
            pr_s.append(i)
            pr_r.append(r)
    if not pr_r or len(t_us) == 0:
        return list(states), events
    pr_s = np.asarray(pr_s, np.int64)
    starts = np.searchsorted(subject, pr_s, side="left")
    cnt = np.searchsorted(subject, pr_s, side="right") - starts
    keep = cnt > 0
    pr_s, starts, cnt = pr_s[keep], starts[keep], cnt[keep]
    pr_r = [r for r, k in zip(pr_r, keep) if k]
    if not pr_r:
        return list(states), events
    g = len(pr_r)
    bi = np.array([beacons.index.get(r.protected_id, -1) for r in pr_r], np.int64)
    radius = np.array([r.radius_m for r in pr_r])
    skew_max = np.array([r.max_skew_s for r in pr_r]) * 1e6
    drift = np.array([r.drift_mps for r in pr_r])
    dwell = np.array([int(r.min_dwell_s * 1e6) for r in pr_r], np.int64)
    zs = [states[i].zones.get(PREFIX + r.rule_id, ZoneState()) for i, r in zip(pr_s.tolist(), pr_r)]
    side0 = np.array([z.side for z in zs], np.int64)
    since0 = np.array([_us(z.since) for z in zs], np.int64)
    pend0 = np.array([z.pending for z in zs], np.int64)
    psince0 = np.array([_us(z.pending_since) for z in zs], np.int64)

    off = np.cumsum(cnt) - cnt
    grp = np.repeat(np.arange(g), cnt)
    idx = np.arange(int(cnt.sum())) + np.repeat(starts - off, cnt)
    b = np.repeat(bi, cnt)
    known = b >= 0
    bs = np.maximum(b, 0)
    bt = np.where(known, beacons.t_us[bs] if len(beacons.t_us) else NO_TIME, NO_TIME)
    skew = np.abs(t_us[idx] - bt).astype(np.float64)
    fresh = known & (bt != NO_TIME) & (skew <= np.repeat(skew_max, cnt))
    d = haversine_m(lat[idx], lon[idx], beacons.lat[bs] if len(beacons.lat) else 0.0,
                    beacons.lon[bs] if len(beacons.lon) else 0.0)
    unc = acc[idx] + (beacons.accuracy_m[bs] if len(beacons.accuracy_m) else 0.0) + np.repeat(drift, cnt) * skew / 1e6
    r = np.repeat(radius, cnt)
    c = np.where(d + unc <= r, 1, np.where(d - unc >= r, -1, 0)).astype(np.int8)
    c[~fresh] = 0  # stale on either side: no evidence, no change
    tr, (side, since, pend, psince) = hysteresis(grp, t_us[idx], c, side0, since0, pend0, psince0, dwell)

    out = list(states)
    changed = np.flatnonzero((side != side0) | (since != since0) | (pend != pend0) | (psince != psince0))
    for q in changed.tolist():
        i = int(pr_s[q])
        zones = dict(out[i].zones)
        zones[PREFIX + pr_r[q].rule_id] = ZoneState(int(side[q]), _dt(since[q]), int(pend[q]), _dt(psince[q]))
        out[i] = out[i].evolve(zones=zones)
    gq = np.searchsorted(off, tr.pair, side="right") - 1
    for m in range(tr.pair.size):
        q, p = int(gq[m]), int(tr.pair[m])
        new, old = int(tr.side[m]), int(tr.old_side[m])
        if new != 1 and old != 1:
            continue  # a first "outside" says nothing
        j = int(idx[p])
        rule = pr_r[q]
        at = _dt(t_us[j])
        starts_ep = new == 1
        episode = at if starts_ep else _dt(tr.old_since[m])
        sid = states[int(pr_s[q])].subject_id
        ev = {"proximity_rule_id": rule.rule_id, "fix_id": None if fix_ids is None else int(fix_ids[j]),
              "fix_at": iso(at), "distance_m": round(float(d[p]), 1), "radius_m": rule.radius_m,
              "uncertainty_m": round(float(unc[p]), 1), "time_skew_s": round(float(skew[p]) / 1e6, 1),
              "min_dwell_s": rule.min_dwell_s, "held_since": iso(_dt(tr.held_since[m]))}
        key = f"{sid}:proximity:{rule.rule_id}:{iso(episode)}" + ("" if starts_ep else ":end")
        kind = "proximity_entered" if starts_ep else "proximity_exited"
        events[int(pr_s[q])].append(Event(kind, "breach", "high" if starts_ep else "info", at, ev, key))
    return out, events
