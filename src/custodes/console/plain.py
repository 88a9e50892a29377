"""Conditions in plain words, as an officer (or the person) reads them: pure functions over the stored specs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pyproj import Geod
from shapely.geometry import shape

_DAYS = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday", "SA": "Saturday",
         "SU": "Sunday"}
_GEOD = Geod(ellps="WGS84")


def _rrule_words(rrule: str) -> str:
    parts = dict(p.split("=", 1) for p in rrule.removeprefix("RRULE:").split(";") if "=" in p)
    freq, interval = parts.get("FREQ"), int(parts.get("INTERVAL", "1") or 1)
    days = [_DAYS.get(d[-2:], d) for d in parts.get("BYDAY", "").split(",") if d]
    if freq == "DAILY":
        words = "every day" if interval == 1 else f"every {interval} days"
    elif freq == "WEEKLY":
        words = ("every " + ", ".join(days)) if days else ("every week" if interval == 1 else f"every {interval} weeks")
        if days and interval > 1:
            words += f", every {interval} weeks"
    elif freq == "MONTHLY":
        words = "every month"
    else:
        words = rrule
    if "UNTIL" in parts:
        words += f" until {parts['UNTIL'][:4]}-{parts['UNTIL'][4:6]}-{parts['UNTIL'][6:8]}"
    if "COUNT" in parts:
        words += f", {parts['COUNT']} times"
    return words


def _metres(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"


def zone_shape(spec: dict[str, Any]) -> str:
    """'circle, 300 m' or 'area, 0.42 km²'."""
    if spec.get("circle"):
        return f"circle, {_metres(float(spec['circle']['radius_m']))}"
    area, _ = _GEOD.geometry_area_perimeter(shape(spec["geometry"]))
    km2 = abs(area) / 1e6
    return f"area, {km2:.2f} km²" if km2 >= 0.01 else f"area, {abs(area):.0f} m²"


def curfew(spec: dict[str, Any], time_zone: str) -> str:
    start = datetime.fromisoformat(spec["start_local"])
    end = start + timedelta(minutes=int(spec["duration_minutes"]))
    where = f"at {spec['zone_name']}" if spec.get("zone_name") else "indoors at the curfew address"
    return f"must be {where} {start:%H:%M}–{end:%H:%M} {_rrule_words(spec['rrule'])} ({time_zone})"


def zone(spec: dict[str, Any]) -> str:
    verb = "must not enter" if spec.get("zone_type") == "exclusion" else "must stay within"
    return f"{verb}: {spec['name']} ({zone_shape(spec)})"


def check_in_policy(spec: dict[str, Any], time_zone: str) -> str:
    n = int(spec["prompts_per_day"])
    if n == 0:
        return "no face check-ins"
    text = (f"up to {n} face check-in{'s' if n != 1 else ''} a day, {spec['waking_start']}–{spec['waking_end']}"
            f" ({time_zone}), each answered within {spec.get('response_minutes', 15)} min")
    quiet = spec.get("quiet_hours") or []
    if quiet:
        text += "; none " + ", ".join(f"{q['start']}–{q['end']}" for q in quiet)
    return text


def condition(kind: str, spec: dict[str, Any], time_zone: str) -> str:
    if kind == "curfew":
        return curfew(spec, time_zone)
    if kind == "zone":
        return zone(spec)
    if kind == "check_in_policy":
        return check_in_policy(spec, time_zone)
    return f"{kind}: {spec}"
