"""One simulated person's day after day: where they truly are every 15 s, what their device does, and
the alerts the simulator planted (its own ground truth, computed here from its own geometry, never
from the platform's rules code).

A day: at home through the night curfew (22:00-06:00 local); one recorded outing replayed from its
start at home (the trip moved so it begins at the front door), a dwell at its far end, the same route
back, home by 21:30. Planted, each for a share of people: staying out past curfew, a stop inside an
exclusion zone placed on the route, the strap opened, a battery never charged, the device switched
off for 90 minutes, and a coverage gap whose fixes are buffered and uploaded late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from custodes.lab.field.trails import Person, Trip

STEP_S = 15.0
HOME_RADIUS_M = 150.0
EXCLUSION_RADIUS_M = 150.0
CURFEW_START_H, CURFEW_HOURS = 22, 8
HOME_BY_H = 21.5
BATTERY_LOW_PCT, BATTERY_CRITICAL_PCT = 20.0, 5.0  # the platform's default levels (rules/models.py)
SILENT_AFTER_S = 3600.0  # the platform's default device-silent threshold


@dataclass(frozen=True)
class Rates:
    curfew_breach: float = 0.15
    exclusion: float = 0.2
    strap: float = 0.05
    battery: float = 0.05
    silent: float = 0.05
    gap: float = 0.2
    # check-in answers (watches): the enrolled person, someone else, a printed photo, late, none
    genuine: float = 0.85
    impostor: float = 0.05
    attack: float = 0.03
    late: float = 0.03
    leave_now: float = 0.0  # share of people whose first outing starts within ten minutes (live demo)


@dataclass
class Plan:
    person: Person
    t: np.ndarray  # epoch seconds, every STEP_S
    lat: np.ndarray
    lon: np.ndarray
    violating: np.ndarray  # bool: outside at curfew or inside the exclusion zone (15 s fixes)
    home: tuple[float, float]
    exclusion: tuple[float, float]
    expected: list[tuple[str, float]] = field(default_factory=list)  # (alert kind, epoch s)
    gaps: list[tuple[float, float]] = field(default_factory=list)  # buffered, uploaded late
    silent: list[tuple[float, float]] = field(default_factory=list)  # device off
    strap_open: tuple[float, float] | None = None
    charges: bool = True


def metres(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Equirectangular distance: exact enough at city scale, and independent of the platform's geodesics."""
    dy = (lat - lat0) * 111_320.0
    dx = (lon - lon0) * 111_320.0 * math.cos(math.radians(lat0))
    return np.hypot(dx, dy)


def _local(t: float, tz: str) -> datetime:
    return datetime.fromtimestamp(t, ZoneInfo(tz))


def build(person: Person, start: datetime, hours: float, rng: np.random.Generator, rates: Rates) -> Plan:
    t0 = math.floor(start.timestamp() / STEP_S) * STEP_S
    t = np.arange(t0, t0 + hours * 3600 + STEP_S, STEP_S)
    home = person.home
    lat, lon = np.full(len(t), home[0]), np.full(len(t), home[1])
    tz = ZoneInfo(person.tz)
    out = np.zeros(len(t), bool)
    trips = [tr for tr in person.trips if metres(tr.lat[0], tr.lon[0], tr.lat, tr.lon).max() > 800] or list(person.trips)
    breach_day = rng.random() < rates.curfew_breach
    leave_now = rng.random() < rates.leave_now
    plant_exclusion = rng.random() < rates.exclusion
    exclusion: tuple[float, float] | None = None
    plan_days = []
    day = _local(t0, person.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < t[-1]:
        plan_days.append(day)
        day = (day + timedelta(days=1, hours=3)).replace(hour=0)
    first = True
    for day in plan_days:
        trip: Trip = trips[int(rng.integers(len(trips)))]
        leg = min(trip.duration_s, 3 * 3600.0)
        start_h = float(np.clip(trip.local_start_h, 8.0, 15.0))
        depart = day.replace(tzinfo=tz).timestamp() + start_h * 3600
        if first and leave_now:
            depart = t0 + float(rng.uniform(60, 600))
        if depart < t0 or depart > t[-1]:
            continue
        dwell = float(rng.uniform(30, 90)) * 60
        back_by = day.timestamp() + HOME_BY_H * 3600
        stay_out, first = breach_day and first, False
        if not stay_out and depart + 2 * leg + dwell > back_by:
            dwell = max(0.0, back_by - depart - 2 * leg)
        keep = trip.t_s <= leg
        tt, tlat, tlon = trip.t_s[keep], trip.lat[keep] - trip.lat[0] + home[0], trip.lon[keep] - trip.lon[0] + home[1]
        if plant_exclusion and exclusion is None and len(tt) > 10:
            k = int(len(tt) * 0.7)
            exclusion = (float(tlat[k]), float(tlon[k]))
            # A ten-minute stop at the zone's centre: a pass at speed could be shorter than the dwell.
            tt = np.concatenate([tt[: k + 1], tt[k:] + 600])
            tlat, tlon = np.concatenate([tlat[: k + 1], tlat[k:]]), np.concatenate([tlon[: k + 1], tlon[k:]])
        far = (float(tlat[-1]), float(tlon[-1]))
        if stay_out:  # past curfew: out until 23:30 local, then home
            dwell = max(dwell, day.timestamp() + 23.5 * 3600 - depart - 2 * tt[-1])
        outward = depart + tt
        ret_start = outward[-1] + dwell
        back = ret_start + (tt[-1] - tt[::-1])
        times = np.concatenate([outward, [outward[-1], ret_start], back])
        lats = np.concatenate([tlat, [far[0], far[0]], tlat[::-1]])
        lons = np.concatenate([tlon, [far[1], far[1]], tlon[::-1]])
        sel = (t >= times[0]) & (t <= times[-1])
        lat[sel], lon[sel] = np.interp(t[sel], times, lats), np.interp(t[sel], times, lons)
        out |= sel
    dist_home = metres(home[0], home[1], lat, lon)
    if exclusion is None:  # placed well away from everywhere the person goes
        bearing = rng.uniform(0, 2 * math.pi)
        for km in (8, 12, 20, 40):
            cand = (home[0] + km * 1000 * math.cos(bearing) / 111_320,
                    home[1] + km * 1000 * math.sin(bearing) / (111_320 * math.cos(math.radians(home[0]))))
            if metres(cand[0], cand[1], lat, lon).min() > 3000:
                exclusion = cand
                break
        else:
            exclusion = cand
    plan = Plan(person, t, lat, lon, np.zeros(len(t), bool), home, exclusion)
    local_h = local_hours(t, person.tz)
    at_curfew = (local_h >= CURFEW_START_H) | (local_h < (CURFEW_START_H + CURFEW_HOURS) % 24)
    away = dist_home > HOME_RADIUS_M + 100
    dist_excl = metres(exclusion[0], exclusion[1], lat, lon)
    in_excl = dist_excl < EXCLUSION_RADIUS_M - 60
    plan.violating = (away & at_curfew) | in_excl
    # Home is the curfew address: leaving it by day is allowed, so only the curfew judges it. A visit
    # ends only once the person is clearly back out (or home, or the curfew is over) for two minutes:
    # a trail wandering 60 m inside the zone and back is one visit, not several.
    plan.expected += [("exclusion_zone_entered", float(x))
                      for x in _visits(t, in_excl, dist_excl > EXCLUSION_RADIUS_M + 60, min_s=120)]
    plan.expected += [("curfew_breach_started", float(x))
                      for x in _visits(t, away & at_curfew, (dist_home < HOME_RADIUS_M - 50) | ~at_curfew, min_s=120)]
    _plant_device(plan, rng, rates, ~out)
    return plan


def local_hours(t: np.ndarray, tz: str) -> np.ndarray:
    """Local hour of day for each instant; the zone's offset is looked up once per half hour."""
    zone, buckets = ZoneInfo(tz), (t // 1800).astype(np.int64)
    offsets = {b: datetime.fromtimestamp(b * 1800, zone).utcoffset().total_seconds() for b in np.unique(buckets)}
    off = np.array([offsets[b] for b in buckets.tolist()])
    return ((t + off) % 86400) // 3600


def _runs(flag: np.ndarray, min_s: float) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of `flag` that last at least min_s."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flag.astype(np.int8), [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True) if (e - s) * STEP_S >= min_s]


def _visits(t: np.ndarray, inside: np.ndarray, clear: np.ndarray, min_s: float) -> list[float]:
    """Start times of visits: a run of `inside` of at least min_s begins one, unless the last visit
    has not ended yet; a visit ends with the first run of `clear` of at least min_s after it."""
    exits = _runs(clear, min_s)
    out, ended_at = [], -1
    for s, _ in _runs(inside, min_s):
        if s < ended_at:
            continue
        out.append(float(t[s]))
        ended_at = next((e0 for e0, _ in exits if e0 > s), len(t))
    return out


def _plant_device(plan: Plan, rng: np.random.Generator, rates: Rates, at_home: np.ndarray) -> None:
    t = plan.t
    daytime = np.flatnonzero(at_home & ~plan.violating)
    if len(daytime) < 2000:
        return

    def pick(span_s: float) -> float:
        i = int(rng.integers(len(daytime) // 4, len(daytime) - int(span_s / STEP_S) - 1))
        return float(t[daytime[i]])

    if rng.random() < rates.silent:
        s = pick(5400)
        plan.silent.append((s, s + 5400))
        plan.expected.append(("device_silent", s + SILENT_AFTER_S))
    if rng.random() < rates.gap:
        s = pick(2700)
        if not any(a - 3600 < s < b + 3600 for a, b in plan.silent):
            plan.gaps.append((s, s + 2700))
    if rng.random() < rates.strap:
        # The strap is reported in an upload's status, which a switched-off device never sends: an
        # opening inside the silence planted an alert nothing could raise (seen: 2 in 1,000 people).
        for _ in range(20):
            s = pick(600)
            if not any(a - 600 < s < b + 600 for a, b in plan.silent):
                plan.strap_open = (s, s + 600)
                plan.expected.append(("strap_opened", s))
                break
    if rng.random() < rates.battery:
        plan.charges = False
        start_pct, drain = 45.0, 4.0
        for kind, level in (("battery_low", BATTERY_LOW_PCT), ("battery_critical", BATTERY_CRITICAL_PCT)):
            crossing = t[0] + (start_pct - level) / drain * 3600
            if crossing < t[-1]:
                plan.expected.append((kind, float(crossing)))
