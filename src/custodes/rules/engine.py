"""The evaluators: pure functions `(state, input, rules, now) -> (state, events)`.

Time-driven checks (curfew window start and end, no fix during curfew, device silent) are
evaluated up to the time of each new input and up to `now` on a tick, always at their own
instants, so the events and their keys do not depend on when a tick happens to run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from custodes.rules import curfew as cw
from custodes.rules import device_health as dh
from custodes.rules.models import (
    Event,
    Fix,
    RuleSet,
    StatusReport,
    SubjectState,
    WindowState,
    ZoneState,
    iso,
)
from custodes.rules.movement import haversine_m, implausible, movement_event
from custodes.rules.zones import CompiledZone, step_zone

FUTURE_TOLERANCE = timedelta(minutes=5)
# Time-driven checks one evaluation may walk (window opens, closes, no-fix, silence): about two
# years of a rule at its bound of windows a day. Beyond it the evaluation stops with an error
# (the pipeline quarantines the batch, the tick raises an integrity alert) instead of spinning.
MAX_STEPS_PER_EVALUATION = 2 * 366 * 3 * cw.MAX_OCCURRENCES_PER_DAY
Result = tuple[SubjectState, list[Event]]


def evaluate_fix(state: SubjectState, fix: Fix, rules: RuleSet, now: datetime) -> Result:
    """Apply one fix. Fixes not newer than the last applied one (duplicates, late arrivals) and
    fixes dated more than five minutes after `now` change nothing."""
    if (state.last_fix is not None and fix.at <= state.last_fix.at) or fix.at > now + FUTURE_TOLERANCE:
        return state, []
    sides = [int(cz.classify([fix.lon], [fix.lat], [fix.accuracy_m])[0]) for cz in rules.compiled]
    return apply_classified_fix(state, fix, sides, rules)


def apply_classified_fix(state: SubjectState, fix: Fix, sides: list[int], rules: RuleSet) -> Result:
    """The rest of `evaluate_fix` once each zone has classified the fix (shared with the batch path)."""
    state, events = advance(state, rules, fix.at)
    if state.silent_since is not None:
        state, e = dh.resumed_event(state, fix.at)
        events.append(e)
    prev = state.last_fix
    if prev is not None:
        dist = float(haversine_m(prev.lat, prev.lon, fix.lat, fix.lon))
        flag = bool(implausible(dist, prev.accuracy_m, fix.accuracy_m, (fix.at - prev.at).total_seconds(),
                                rules.max_speed_mps))
        if flag and not state.implausible:
            events.append(movement_event(state.subject_id, prev, fix, dist, rules.max_speed_mps))
        state = state.evolve(implausible=flag)
    zones = dict(state.zones)
    curfew_zones = rules.curfew_zone_ids()
    for cz, side in zip(rules.compiled, sides):
        zid = cz.rule.zone_id
        old = zones.get(zid, ZoneState())
        new, changed = step_zone(old, side, fix.at, cz.rule.min_dwell_s)
        zones[zid] = new
        if changed and zid not in curfew_zones:
            e = zone_event(state.subject_id, cz, old, new.side, fix)
            if e is not None:
                events.append(e)
    checked = fix.at if state.curfews_checked_to is None else max(state.curfews_checked_to, fix.at)
    state = state.evolve(zones=zones, last_fix=fix, curfews_checked_to=checked)
    fresh = {cz.rule.zone_id: side for cz, side in zip(rules.compiled, sides)}
    return _curfew_after_fix(state, fix, fresh, rules, events)


def evaluate_status(state: SubjectState, status: StatusReport, rules: RuleSet, now: datetime) -> Result:
    if (state.last_status_at is not None and status.at <= state.last_status_at) or \
            status.at > now + FUTURE_TOLERANCE:
        return state, []
    state, events = advance(state, rules, status.at)
    if state.silent_since is not None:
        state, e = dh.resumed_event(state, status.at)
        events.append(e)
    state, more = dh.status_events(state, status, rules.health)
    return state, events + more


def evaluate_tick(state: SubjectState, rules: RuleSet, now: datetime) -> Result:
    """Scheduled checks up to `now`: window starts with no new fix, no fix during curfew, silence."""
    return advance(state, rules, now)


def zone_event(sid: str, cz: CompiledZone, old: ZoneState, side: int, fix: Fix) -> Event | None:
    rule = cz.rule
    if rule.kind == "exclusion":
        kind = "exclusion_zone_entered" if side == 1 else ("exclusion_zone_exited" if old.side == 1 else None)
    else:
        kind = "inclusion_zone_exited" if side == -1 else ("inclusion_zone_returned" if old.side == -1 else None)
    if kind is None:
        return None
    starts = kind in ("exclusion_zone_entered", "inclusion_zone_exited")
    episode = fix.at if starts else old.since
    ev = {"zone_id": rule.zone_id, "zone_kind": rule.kind, "fix_id": fix.fix_id, "fix_at": iso(fix.at),
          "lat": fix.lat, "lon": fix.lon, "accuracy_m": fix.accuracy_m, "source": fix.source,
          "distance_m": round(cz.signed_distance(fix.lon, fix.lat), 1), "margin_m": rule.margin_m,
          "min_dwell_s": rule.min_dwell_s,
          "held_since": iso(old.pending_since if old.pending == side else fix.at)}
    key = f"{sid}:zone:{rule.zone_id}:{iso(episode)}" + ("" if starts else ":end")
    return Event(kind, "breach", "high" if starts else "info", fix.at, ev, key)


def _window_evidence(c, w: WindowState, state: SubjectState, reason: str) -> dict:
    f = state.last_fix
    return {"curfew_id": c.curfew_id, "zone_id": c.zone_id, "window_start": iso(w.start),
            "window_end": iso(w.end), "reason": reason, "fix_id": f.fix_id if f else None,
            "fix_at": iso(f.at) if f else None, "accuracy_m": f.accuracy_m if f else None}


def _breach(state: SubjectState, c, w: WindowState, at: datetime, reason: str) -> tuple[WindowState, Event]:
    n = w.episodes + 1
    key = f"{state.subject_id}:curfew:{c.curfew_id}:{iso(w.start)}:breach:{n}"
    e = Event("curfew_breach_started", "breach", "high", at, _window_evidence(c, w, state, reason), key)
    return replace(w, breach_since=at, episodes=n), e


def _breach_end(state: SubjectState, c, w: WindowState, at: datetime, reason: str) -> tuple[WindowState, Event]:
    key = f"{state.subject_id}:curfew:{c.curfew_id}:{iso(w.start)}:breach:{w.episodes}:end"
    ev = _window_evidence(c, w, state, reason) | {"breach_since": iso(w.breach_since)}
    return replace(w, breach_since=None), Event("curfew_breach_ended", "breach", "info", at, ev, key)


def _curfew_after_fix(state: SubjectState, fix: Fix, fresh: dict[str, int], rules: RuleSet,
                      events: list[Event]) -> Result:
    """A breach starts on a fix that is itself surely outside while the zone is confirmed outside
    (an uncertain fix does not refresh old evidence), and ends once the zone is confirmed inside."""
    windows = dict(state.windows)
    for c in rules.curfews:
        w = windows.get(c.curfew_id)
        if w is None or not w.open:
            continue
        side = state.zones[c.zone_id].side
        if w.breach_since is None and side == -1 and fresh[c.zone_id] == -1:
            windows[c.curfew_id], e = _breach(state, c, w, max(fix.at, w.start), "left_zone")
            events.append(e)
        elif w.breach_since is not None and side == 1:
            windows[c.curfew_id], e = _breach_end(state, c, w, max(fix.at, w.breach_since), "returned")
            events.append(e)
    return state.evolve(windows=windows), events


def _pending(state: SubjectState, rules: RuleSet) -> list[tuple]:
    """Every time-driven check still to come, as (instant, order, what, curfew, window end)."""
    todo = []
    for c in rules.curfews:
        w = state.windows.get(c.curfew_id)
        if w is not None and w.open:
            todo.append((w.end, 0, "close", c, None))
            due = w.start + timedelta(seconds=c.no_fix_after_s)
            no_fix = state.last_fix is None or state.last_fix.at < w.start
            if not w.no_fix_raised and no_fix and due < w.end:
                todo.append((due, 2, "no_fix", c, None))
        else:
            after = w.start if w is not None else state.curfews_checked_to
            if after is not None:
                span = cw.next_window(c, after)
                if span is not None:
                    todo.append((span[0], 1, "open", c, span[1]))
    due = dh.silent_due(state, rules.silent_after_s)
    if due is not None:
        todo.append((due, 3, "silent", None, None))
    return todo


def next_due(state: SubjectState, rules: RuleSet, silence: bool = True) -> datetime | None:
    """The next instant at which a tick could raise something (for the scheduler).

    With `silence=False`, only curfew instants (window start and end, no fix) count."""
    todo = [item for item in _pending(state, rules) if silence or item[2] != "silent"]
    return min(t for t, *_ in todo) if todo else None


def advance(state: SubjectState, rules: RuleSet, upto: datetime) -> Result:
    events: list[Event] = []
    if state.curfews_checked_to is None:
        # First evaluation: open the windows we are already inside; earlier ones are history.
        state = state.evolve(curfews_checked_to=upto, decided_to=_later(state.decided_to, upto))
        for c in rules.curfews:
            span = cw.window_at(c, upto)
            if span is not None:
                state, events = _open(state, c, WindowState(*span), rules, events)
    for step in range(MAX_STEPS_PER_EVALUATION + 1):
        todo = [item for item in _pending(state, rules) if item[0] <= upto]
        if not todo:
            break
        if step == MAX_STEPS_PER_EVALUATION:
            raise cw.RuleBoundExceeded(f"more than {MAX_STEPS_PER_EVALUATION} curfew and silence checks "
                                       f"between {iso(state.curfews_checked_to)} and {iso(upto)}")
        at, _, what, c, c_end = min(todo, key=lambda item: item[:2])
        if what == "silent":
            state, e = dh.silent_event(state, at)
            events.append(e)
        elif what == "open":
            state, events = _open(state, c, WindowState(at, c_end), rules, events)
        else:
            windows = dict(state.windows)
            w = windows[c.curfew_id]
            if what == "close":
                if w.breach_since is not None:
                    w, e = _breach_end(state, c, w, w.end, "window_end")
                    events.append(e)
                windows[c.curfew_id] = replace(w, open=False)
            else:
                cat = "device_fault" if state.battery != "ok" or state.silent_since else "integrity"
                ev = _window_evidence(c, w, state, "no_fix") | {"battery": state.battery,
                                                                "silent_since": iso(state.silent_since)}
                key = f"{state.subject_id}:curfew:{c.curfew_id}:{iso(w.start)}:no_fix"
                events.append(Event("curfew_no_fix", cat, "medium", at, ev, key))
                windows[c.curfew_id] = replace(w, no_fix_raised=True)
            state = state.evolve(windows=windows)
        state = state.evolve(curfews_checked_to=max(state.curfews_checked_to, at), decided_to=_later(state.decided_to, at))
    if upto > state.curfews_checked_to:
        state = state.evolve(curfews_checked_to=upto)
    return state, events


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _open(state: SubjectState, c, w: WindowState, rules: RuleSet, events: list[Event]) -> Result:
    """A window starts: decide presence from the last fix, if it is recent enough to count."""
    zs = state.zones.get(c.zone_id, ZoneState())
    f = state.last_fix
    fresh = f is not None and w.start - f.at <= timedelta(seconds=rules.presence_max_age_s)
    if zs.side == -1 and fresh:
        w, e = _breach(state, c, w, w.start, "outside_at_window_start")
        events.append(e)
    return state.evolve(windows={**state.windows, c.curfew_id: w}), events
