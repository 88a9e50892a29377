"""One batch of fixes through a BatchEvaluator: order, filter, classify, hysteresis, events.

Per fix the scalar path emits movement first and then zone events in zone order; events here
are sorted the same way, so both paths return identical lists.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from custodes.rules.batch_zones import NO_TIME, classify_circles, hysteresis
from custodes.rules.engine import FUTURE_TOLERANCE, apply_classified_fix, zone_event
from custodes.rules.models import Event, ZoneState
from custodes.rules.movement import haversine_m, implausible, movement_event


def evaluate_batch(ev, b, now: datetime) -> list[Event]:
    from custodes.rules.batch import US, from_us, to_us

    if len(b) == 0:
        return []
    s, t = b.subject, b.t_us
    if np.any((s[1:] < s[:-1]) | ((s[1:] == s[:-1]) & (t[1:] < t[:-1]))):
        b = b.take(np.lexsort((b.t_us, b.subject)))
        s, t = b.subject, b.t_us
    # Drop what the scalar path ignores: the future, duplicates and fixes older than the last one.
    prev_t = np.empty_like(t)
    prev_t[1:] = t[:-1]
    first = np.ones(len(t), bool)
    first[1:] = s[1:] != s[:-1]
    prev_t[first] = NO_TIME
    keep = (t > np.maximum(prev_t, ev.last_t[s])) & (t <= to_us(now) + FUTURE_TOLERANCE // US)
    if not keep.all():
        b = b.take(np.flatnonzero(keep))
        s, t = b.subject, b.t_us
        if len(b) == 0:
            return []
    n = len(t)
    first = np.ones(n, bool)
    first[1:] = s[1:] != s[:-1]
    starts = np.flatnonzero(np.append(True, s[1:] != s[:-1]))
    counts = np.diff(np.append(starts, n))
    ends = starts + counts - 1
    subs = s[starts]
    lat, lon, acc = b.lat, b.lon, b.accuracy_m

    # Movement between consecutive fixes (the first one against the stored last fix).
    def shifted(a, first_values):
        out = np.empty_like(a)
        out[1:] = a[:-1]
        out[starts] = first_values
        return out

    p_t = shifted(t, ev.last_t[subs])
    p_lat, p_lon, p_acc = shifted(lat, ev.last_lat[subs]), shifted(lon, ev.last_lon[subs]), shifted(acc, ev.last_acc[subs])
    has_prev = p_t != NO_TIME
    dist = haversine_m(p_lat, p_lon, lat, lon)
    flag = has_prev & implausible(dist, p_acc, acc, (t - p_t) / 1e6, ev.max_speed[s])
    p_flag = shifted(flag, ev.implausible[subs])
    moved = np.flatnonzero(flag & ~p_flag)

    # Which subjects need the scalar path: curfew instants, silence, first evaluation.
    fallback = np.zeros(len(ev.rules), bool)
    seen = np.maximum(ev.last_t, ev.last_status)[subs]
    p_seen = shifted(t, seen)
    gap = (p_seen != NO_TIME) & (t - p_seen >= ev.silent_after[s])
    fallback[subs] = ev.silent[subs] | (ev.curfew_due[subs] <= t[ends]) | np.logical_or.reduceat(gap, starts)

    classes = np.zeros((n, ev.kind.shape[1]), np.int8)
    updates, transitions = [], []
    for k in range(ev.kind.shape[1]):
        for kind in (0, 1):
            has = ev.kind[subs, k] == kind
            if not has.any():
                continue
            gs, cnt = subs[has], counts[has]
            idx = np.flatnonzero(np.repeat(has, counts))
            need = acc[idx] + np.repeat(ev.margin[gs, k], cnt)
            if kind == 0:
                c = classify_circles(lon[idx], lat[idx], need, *(np.repeat(p[gs, k], cnt) for p in ev.circle))
            else:
                c, exact = ev.atlas.classify(np.repeat(ev.poly[gs, k], cnt), lon[idx], lat[idx], need)
                ev.exact_pairs += exact
            classes[idx, k] = c
            grp = np.repeat(np.arange(gs.size), cnt)
            tr, final = hysteresis(grp, t[idx], c, ev.side[gs, k], ev.since[gs, k], ev.pend[gs, k],
                                   ev.psince[gs, k], ev.dwell[gs, k])
            updates.append((gs, k, final))
            if tr.pair.size:
                j = idx[tr.pair]
                transitions.append((j, k, tr))
                in_window = ev.curfew_zone[s[j], k] & ev.open_window[s[j]]
                fallback[s[j][in_window]] = True

    items: list[tuple[int, int, Event]] = []
    for j in moved:
        i = s[j]
        if fallback[i]:
            continue
        prev = ev._last_fix(i) if first[j] else b.fix(j - 1)
        items.append((j, 0, movement_event(ev.states[i].subject_id, prev, b.fix(j), float(dist[j]),
                                           float(ev.max_speed[i]))))
    for js, k, tr in transitions:
        for m, j in enumerate(js):
            i = s[j]
            if fallback[i] or ev.curfew_zone[i, k]:
                continue
            old = ZoneState(int(tr.old_side[m]), from_us(tr.old_since[m]), int(tr.side[m]), from_us(tr.held_since[m]))
            e = zone_event(ev.states[i].subject_id, ev.rules[i].compiled[k], old, int(tr.side[m]), b.fix(j))
            if e is not None:
                items.append((j, 1 + k, e))

    # Columns move on for the vectorised subjects; the others replay through the scalar path.
    for gs, k, (side, since, pend, psince) in updates:
        ok = ~fallback[gs]
        g = gs[ok]
        ev.side[g, k], ev.since[g, k], ev.pend[g, k], ev.psince[g, k] = side[ok], since[ok], pend[ok], psince[ok]
    ok = ~fallback[subs]
    g, e_ok = subs[ok], ends[ok]
    ev.last_t[g], ev.last_lat[g], ev.last_lon[g], ev.last_acc[g] = t[e_ok], lat[e_ok], lon[e_ok], acc[e_ok]
    ev.last_id[g] = b.fix_id[e_ok] if b.fix_id is not None else np.iinfo(np.int64).min
    ev.last_src[g] = b.source[e_ok] if b.source is not None else 0
    last_has_prev = has_prev[e_ok]
    ev.implausible[g] = np.where(last_has_prev, flag[e_ok], ev.implausible[g])
    ev.checked_to[g] = np.maximum(ev.checked_to[g], t[e_ok])
    ev.touched[g] = True

    for a, i in zip(starts[~ok], subs[~ok]):
        ev.scalar_runs += 1
        st = ev.state(int(i))
        rules = ev.rules[i]
        nz = len(rules.zones)
        for j in range(a, a + counts[np.searchsorted(starts, a)]):
            st, out = apply_classified_fix(st, b.fix(j), classes[j, :nz].tolist(), rules)
            items += [(j, 100 + q, e) for q, e in enumerate(out)]
        ev._load(int(i), st)
    items.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in items]
