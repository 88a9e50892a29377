"""Device health from status reports: battery, strap, charging; and the device-silent check.

Everything here is a device fault or an integrity signal, never a breach: a flat battery
says nothing about where the person is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custodes.rules.models import (
    Event,
    HealthThresholds,
    StatusReport,
    SubjectState,
    iso,
)


def battery_level(pct: float, previous: str, t: HealthThresholds) -> str:
    if pct <= t.battery_critical_pct:
        return "critical"
    if pct <= t.battery_low_pct:
        return "low"
    # Between low and recover the level keeps what it was, so a battery hovering at the
    # threshold raises one event, not one per report.
    if pct <= t.battery_recover_pct and previous != "ok":
        return "low"
    return "ok"


def status_events(state: SubjectState, s: StatusReport, t: HealthThresholds) -> tuple[SubjectState, list[Event]]:
    sid, at, events = state.subject_id, s.at, []
    ev = {"battery_pct": s.battery_pct, "strap": s.strap, "charging": s.charging, "status_at": iso(at)}
    level = battery_level(s.battery_pct, state.battery, t)
    rank = {"ok": 0, "low": 1, "critical": 2}
    if rank[level] > rank[state.battery]:
        sev = "medium" if level == "critical" else "low"
        events.append(Event(f"battery_{level}", "device_fault", sev, at, ev, f"{sid}:battery_{level}:{iso(at)}"))
    if s.strap != state.strap:
        if s.strap == "cut":
            events.append(Event("strap_cut", "integrity", "critical", at, ev, f"{sid}:strap_cut:{iso(at)}"))
        elif s.strap == "open":
            events.append(Event("strap_opened", "integrity", "high", at, ev, f"{sid}:strap_opened:{iso(at)}"))
        else:
            events.append(Event("strap_closed", "integrity", "info", at, ev, f"{sid}:strap_closed:{iso(at)}"))
    if s.charging != state.charging:
        kind = "charging_started" if s.charging else "charging_stopped"
        events.append(Event(kind, "device_fault", "info", at, ev, f"{sid}:{kind}:{iso(at)}"))
    return state.evolve(battery=level, strap=s.strap, charging=s.charging, last_status_at=at), events


def silent_due(state: SubjectState, silent_after_s: float) -> datetime | None:
    """When the device counts as silent, if it is not already."""
    seen = state.last_seen
    if seen is None or state.silent_since is not None:
        return None
    return seen + timedelta(seconds=silent_after_s)


def silent_event(state: SubjectState, at: datetime) -> tuple[SubjectState, Event]:
    seen = state.last_seen
    ev = {"last_seen": iso(seen), "last_fix_id": state.last_fix.fix_id if state.last_fix else None,
          "battery": state.battery, "strap": state.strap}
    e = Event("device_silent", "device_fault", "medium", at, ev, f"{state.subject_id}:device_silent:{iso(at)}")
    return state.evolve(silent_since=at), e


def resumed_event(state: SubjectState, at: datetime) -> tuple[SubjectState, Event]:
    ev = {"silent_since": iso(state.silent_since), "resumed_at": iso(at)}
    key = f"{state.subject_id}:device_silent:{iso(state.silent_since)}:resumed"
    return state.evolve(silent_since=None), Event("device_resumed", "device_fault", "info", at, ev, key)
