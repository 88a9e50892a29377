"""One batch of fixes through a BatchEvaluator: order, filter, classify, hysteresis, events.

Each (subject, zone) run is first judged whole from the box around the subject's fixes: when
every fix lies on the zone's confirmed side and nothing is pending, no fix can change anything.
Only the remaining runs are classified fix by fix, as contiguous pairs in flat numpy arrays.
Per fix the scalar path emits movement first and then zone events in zone order; so do we.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from custodes.rules.batch_zones import (
    NO_TIME,
    circles_one_side,
    classify_circles,
    hysteresis,
)
from custodes.rules.engine import FUTURE_TOLERANCE, apply_classified_fix, zone_event
from custodes.rules.models import Event, ZoneState
from custodes.rules.movement import (
    EARTH_RADIUS_M,
    haversine_m,
    implausible,
    movement_event,
)

# Metres per degree of |dlat| + |dlon|, a bound on the great-circle distance (meridian + parallel).
_BOUND = np.pi / 180.0 * EARTH_RADIUS_M * (1 + 1e-9)


def evaluate_batch(ev, b, now: datetime) -> list[tuple[int, Event]]:
    """Events as (subject, event), in subject order and, per subject, in the scalar path's order."""
    from custodes.rules.batch import US, from_us, to_us

    if len(b) == 0:
        return []
    if not (np.all(b.accuracy_m >= 0) and np.all(b.accuracy_m < np.inf)):  # NaN fails both
        raise ValueError("accuracy must be a finite number of metres, not negative")
    if not (np.all(np.abs(b.lat) <= 90) and np.all(np.abs(b.lon) <= 180)):
        raise ValueError("coordinates out of range (or NaN)")
    b = applicable(ev, b, to_us(now) + FUTURE_TOLERANCE // US)
    if b is None:
        return []
    s, t, lat, lon, acc = b.subject, b.t_us, b.lat, b.lon, b.accuracy_m
    n = len(t)
    first = np.empty(n, bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n))
    ends = starts + counts - 1
    subs = s[starts]
    seen_before = ev.last_t[subs] != NO_TIME

    def step(a, before):
        """a[j] - a[j-1], and a[j] - before for each subject's first fix."""
        out = np.empty_like(a)
        np.subtract(a[1:], a[:-1], out=out[1:])
        out[starts] = a[starts] - before
        return out

    # Movement: the bound clears almost every step; the rest get the scalar path's haversine.
    d_us = step(t, ev.last_t[subs])
    dt = d_us / 1e6
    sum_acc = np.empty_like(acc)
    np.add(acc[1:], acc[:-1], out=sum_acc[1:])
    sum_acc[starts] = acc[starts] + ev.last_acc[subs]
    bound = (np.abs(step(lat, ev.last_lat[subs])) + np.abs(step(lon, ev.last_lon[subs]))) * _BOUND
    speed = ev.max_speed[subs].repeat(counts) if ev.speeds_differ else ev.max_speed[0]
    flag = (bound + 1e-6 - sum_acc) > speed * dt
    flag[starts[~seen_before]] = False
    dist = {}
    cand = np.flatnonzero(flag)
    if cand.size:
        prev = np.maximum(cand - 1, 0)
        p_lat = np.where(first[cand], ev.last_lat[s[cand]], lat[prev])
        p_lon = np.where(first[cand], ev.last_lon[s[cand]], lon[prev])
        p_acc = np.where(first[cand], ev.last_acc[s[cand]], acc[prev])
        d = haversine_m(p_lat, p_lon, lat[cand], lon[cand])
        flag[cand] = implausible(d, p_acc, acc[cand], dt[cand], speed if np.isscalar(speed) else speed[cand])
        dist = dict(zip(cand.tolist(), d.tolist()))
    p_flag = np.empty_like(flag)
    p_flag[1:] = flag[:-1]
    p_flag[starts] = ev.implausible[subs]
    moved = np.flatnonzero(flag & ~p_flag)

    # Which subjects need the scalar path: curfew instants, silence, a first evaluation.
    silent_after = ev.silent_after[subs].repeat(counts) if ev.silences_differ else ev.silent_after[0]
    gap = d_us >= silent_after
    seen = np.maximum(ev.last_t, ev.last_status)[subs]
    gap[starts] = (seen != NO_TIME) & (t[starts] - seen >= ev.silent_after[subs])
    fallback = np.zeros(len(ev.rules), bool)
    fallback[subs] = (ev.silent[subs] | ev.curfew_unsettled[subs] | (ev.curfew_due[subs] <= t[ends])
                      | np.logical_or.reduceat(gap, starts))

    box = (np.minimum.reduceat(lon, starts), np.maximum.reduceat(lon, starts),
           np.minimum.reduceat(lat, starts), np.maximum.reduceat(lat, starts))
    kinds = ev.kind[subs]
    updates, transitions = [], []
    for kind in (0, 1, 2):
        es, ek = np.nonzero(kinds == kind)  # one run per (subject, zone), subject-major
        if es.size == 0:
            continue
        gs = subs[es]
        ebox = [a[es] for a in box]
        if kind == 0:
            one = circles_one_side(*ebox, *ev.circle[:, gs, ek])
        else:
            one = (ev.atlas if kind == 1 else ev.small).one_side(ev.poly[gs, ek], *ebox)
        flat = gs * kinds.shape[1] + ek
        side0, pend0 = ev.side.ravel().take(flat), ev.pend.ravel().take(flat)
        we = np.flatnonzero((one != side0) | (side0 == 0) | (pend0 != 0))
        if we.size == 0:
            continue
        es, ek, gs, side0, pend0 = es[we], ek[we], gs[we], side0[we], pend0[we]
        cnt = counts[es]
        off = np.cumsum(cnt) - cnt
        idx = np.arange(int(cnt.sum())) + np.repeat(starts[es] - off, cnt)
        need = acc[idx] + np.repeat(ev.margin[gs, ek], cnt)
        if kind == 0:
            c = classify_circles(lon[idx], lat[idx], need, *(np.repeat(p, cnt) for p in ev.circle[:, gs, ek]))
        elif kind == 1:
            c, exact = ev.atlas.classify(np.repeat(ev.poly[gs, ek], cnt), lon[idx], lat[idx], need)
            ev.exact_pairs += exact
        else:
            c = ev.small.classify(np.repeat(ev.poly[gs, ek], cnt), lon[idx], lat[idx], need)
        ev.pairs += int(c.size)
        # Only runs with a fix off their confirmed side, or a change pending, can move.
        odd = np.flatnonzero((c != 0) & (c != np.repeat(side0, cnt)))
        hot = pend0 != 0
        hot[np.searchsorted(off, odd, side="right") - 1] = True
        he = np.flatnonzero(hot)
        if he.size == 0:
            continue
        hc = cnt[he]
        hoff = np.cumsum(hc) - hc
        pidx = np.arange(int(hc.sum())) + np.repeat(off[he] - hoff, hc)
        g, k = gs[he], ek[he]
        tr, final = hysteresis(np.repeat(np.arange(he.size), hc), t[idx[pidx]], c[pidx], side0[he],
                               ev.since[g, k], pend0[he], ev.psince[g, k], ev.dwell[g, k])
        updates.append((g, k, final))
        if tr.pair.size:
            j = idx[pidx[tr.pair]]
            tk = k[np.searchsorted(hoff, tr.pair, side="right") - 1]
            transitions.append((j, tk, tr))
            in_window = ev.curfew_zone[s[j], tk] & ev.open_window[s[j]]
            fallback[s[j][in_window]] = True

    items: list[tuple[int, int, Event]] = []
    for j in moved:
        i = s[j]
        if fallback[i]:
            continue
        prev_fix = ev._last_fix(i) if first[j] else b.fix(j - 1)
        items.append((j, 0, movement_event(ev.states[i].subject_id, prev_fix, b.fix(j), dist[j],
                                           float(ev.max_speed[i]))))
    for js, ks, tr in transitions:
        # The changes `zone_event` reports: into or out of an exclusion zone, out of or back into
        # an inclusion zone without a curfew (first confirmations elsewhere say nothing).
        bad = np.where(ev.exclusion[s[js], ks], 1, -1)
        told = ((tr.side == bad) | (tr.old_side == bad)) & ~ev.curfew_zone[s[js], ks] & ~fallback[s[js]]
        for m in np.flatnonzero(told):
            j, k = js[m], ks[m]
            i = s[j]
            old = ZoneState(int(tr.old_side[m]), from_us(tr.old_since[m]), int(tr.side[m]), from_us(tr.held_since[m]))
            e = zone_event(ev.states[i].subject_id, ev.rules[i].compiled[k], old, int(tr.side[m]), b.fix(j))
            if e is not None:
                items.append((j, 1 + k, e))

    # Columns move on for the vectorised subjects; the others replay through the scalar path.
    for g, k, (side, since, pend, psince) in updates:
        ok = ~fallback[g]
        g, k = g[ok], k[ok]
        ev.side[g, k], ev.since[g, k], ev.pend[g, k], ev.psince[g, k] = side[ok], since[ok], pend[ok], psince[ok]
    ok = ~fallback[subs]
    g, e_ok = subs[ok], ends[ok]
    ev.last_t[g], ev.last_lat[g], ev.last_lon[g], ev.last_acc[g] = t[e_ok], lat[e_ok], lon[e_ok], acc[e_ok]
    ev.last_id[g] = b.fix_id[e_ok] if b.fix_id is not None else np.iinfo(np.int64).min
    ev.last_src[g] = b.source[e_ok] if b.source is not None else 0
    # The first fix ever has no step to judge, so a lone first fix leaves the episode as it was.
    judged = ~(first[e_ok] & ~seen_before[ok])
    ev.implausible[g] = np.where(judged, flag[e_ok], ev.implausible[g])
    ev.checked_to[g] = np.maximum(ev.checked_to[g], t[e_ok])
    ev.touched[g] = True

    for p in np.flatnonzero(~ok):
        i = int(subs[p])
        ev.scalar_runs += 1
        rules = ev.rules[i]
        span = slice(starts[p], starts[p] + counts[p])
        classes = np.stack([cz.classify(lon[span], lat[span], acc[span]) for cz in rules.compiled], axis=1) \
            if rules.compiled else np.zeros((counts[p], 0), np.int8)
        st = ev.state(i)
        for q, j in enumerate(range(span.start, span.stop)):
            st, out = apply_classified_fix(st, b.fix(j), classes[q].tolist(), rules)
            items += [(j, 100 + r, e) for r, e in enumerate(out)]
        ev._load(i, st)
    items.sort(key=lambda x: (x[0], x[1]))
    return [(int(s[j]), e) for j, _, e in items]


def applicable(ev, b, limit_us: int):
    """The batch ordered by (subject, time) without what the scalar path ignores: the future,
    duplicates and fixes not newer than the subject's last one (None when nothing is left)."""
    s, t = b.subject, b.t_us
    same = s[1:] == s[:-1]
    if np.any((s[1:] < s[:-1]) | (same & (t[1:] < t[:-1]))):
        b = b.take(np.lexsort((b.t_us, b.subject)))
        s, t = b.subject, b.t_us
        same = s[1:] == s[:-1]
    newer = np.ones(len(t), bool)
    newer[1:] = ~same | (t[1:] > t[:-1])  # later than the fix before, within a subject
    heads = np.append(0, np.flatnonzero(~same) + 1)
    if newer.all() and t.max() <= limit_us and np.all(t[heads] > ev.last_t[s[heads]]):
        return b
    # Rare path: a running maximum per subject, seeded with the subject's last applied fix.
    prev_t = np.empty_like(t)
    prev_t[0] = np.iinfo(np.int64).min
    prev_t[1:] = np.where(same, t[:-1], np.iinfo(np.int64).min)
    keep = (t > np.maximum(prev_t, ev.last_t[s])) & (t <= limit_us)
    return b.take(np.flatnonzero(keep)) if keep.any() else None
