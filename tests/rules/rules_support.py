"""Helpers for the rules tests: build fixes quickly and run a stream through the evaluators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custodes.rules import (
    Fix,
    StatusReport,
    SubjectState,
    evaluate_fix,
    evaluate_status,
    evaluate_tick,
)
from custodes.rules.zones import metres_per_degree

LAT0, LON0 = 51.5, -0.12


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point `east_m`/`north_m` metres from (lat, lon)."""
    kx, ky = metres_per_degree(lat)
    return lat + north_m / ky, lon + east_m / kx


def run(rules, items, state=None, subject="s-1"):
    """Feed fixes, status reports and ("tick", now) items in order; return (state, events)."""
    state = state or SubjectState(subject)
    events = []
    for item in items:
        if isinstance(item, Fix):
            state, ev = evaluate_fix(state, item, rules, item.at)
        elif isinstance(item, StatusReport):
            state, ev = evaluate_status(state, item, rules, item.at)
        else:
            state, ev = evaluate_tick(state, rules, item[1])
        events += ev
    return state, events


def kinds(events):
    return [e.kind for e in events]


def minutes(start, n, step_s=60):
    return [start + timedelta(seconds=i * step_s) for i in range(n)]


def make_fix(when, east=0.0, north=0.0, acc=5.0, centre=(LAT0, LON0), source="gps"):
    lat, lon = offset(*centre, east, north)
    return Fix(when, lat, lon, acc, source, fix_id=int(when.timestamp()))
