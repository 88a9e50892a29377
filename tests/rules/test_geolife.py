"""Replay real GeoLife trails through the engine and check curfew events against an independent
computation (pyproj geodesics, plain zoneinfo windows, a hand-written dwell loop)."""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pyproj import Geod

from custodes.config import data_root
from custodes.rules import (
    Circle,
    CurfewRule,
    Fix,
    RuleSet,
    SubjectState,
    ZoneRule,
    evaluate_fix,
    evaluate_tick,
)

PEOPLE = ["geolife_long_10_MB/002", "geolife_long_10_MB/003", "geolife_long_10_MB/004"]
TZ = "Asia/Shanghai"  # GeoLife is Beijing; .plt times are UTC
RADIUS, MARGIN, ACC, DWELL, NO_FIX = 200.0, 10.0, 10.0, 120.0, 1800.0
PRESENCE_AGE = 1800.0


def load(person: str) -> list[tuple[datetime, float, float]]:
    folder = data_root() / "gps" / "geolife-dev" / person / "Trajectory"
    files = sorted(folder.glob("*.plt"))
    assert files, f"GeoLife sample missing: {folder} (set CUSTODES_DATA)"
    pts = []
    for f in files:
        for line in f.read_text().splitlines()[6:]:
            p = line.split(",")
            pts.append((datetime.fromisoformat(f"{p[5]}T{p[6]}+00:00"), float(p[0]), float(p[1])))
    pts.sort()
    out = []
    for t, lat, lon in pts[::3]:  # every third point (~15 s apart) keeps the test to seconds
        if not out or t > out[-1][0]:
            out.append((t, lat, lon))
    return out


def home_of(pts) -> tuple[float, float]:
    """Where the person is at night (22:00-06:00 local): centre of the busiest 200 m cell."""
    night = [(lat, lon) for t, lat, lon in pts if not 6 <= t.astimezone(ZoneInfo(TZ)).hour < 22]
    cell = Counter((round(lat / 0.002), round(lon / 0.002)) for lat, lon in night).most_common(1)[0][0]
    inside = np.array([(lat, lon) for lat, lon in night if (round(lat / 0.002), round(lon / 0.002)) == cell])
    return float(inside[:, 0].mean()), float(inside[:, 1].mean())


def engine_events(pts, home, end):
    rules = RuleSet(zones=(ZoneRule("home", "inclusion", Circle(*home, RADIUS), margin_m=MARGIN, min_dwell_s=DWELL),),
                    curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2008, 1, 1, 22), timedelta(hours=8),
                                        tz=TZ, no_fix_after_s=NO_FIX),),
                    presence_max_age_s=PRESENCE_AGE)
    state, events = SubjectState("p"), []
    for i, (t, lat, lon) in enumerate(pts):
        state, ev = evaluate_fix(state, Fix(t, lat, lon, ACC, fix_id=i), rules, t)
        events += ev
    state, ev = evaluate_tick(state, rules, end)
    return events + ev


def independent_events(pts, home, end):
    times = [t for t, _, _ in pts]
    lats, lons = np.array([p[1] for p in pts]), np.array([p[2] for p in pts])
    _, _, dist = Geod(ellps="WGS84").inv(np.full(len(pts), home[1]), np.full(len(pts), home[0]), lons, lats)
    need = ACC + MARGIN
    sure = np.where(dist <= RADIUS - need, 1, np.where(dist >= RADIUS + need, -1, 0))
    # side[i]: the confirmed side after fix i (a side holds once it has lasted DWELL seconds).
    side, cur, cand, cand_t = [], 0, 0, None
    for t, s in zip(times, sure):
        if s == cur:
            cand = 0
        elif s != 0:
            if s != cand:
                cand, cand_t = s, t
            if (t - cand_t).total_seconds() >= DWELL:
                cur, cand = s, 0
        side.append(cur)
    zone = ZoneInfo(TZ)
    out = []
    day = times[0].astimezone(zone).date() - timedelta(days=1)
    while True:
        s = datetime(day.year, day.month, day.day, 22, tzinfo=zone).astimezone(UTC)
        e = (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1, hours=6)).astimezone(UTC)
        day += timedelta(days=1)
        if s > end:
            break
        if e <= times[0]:
            continue
        first_in = bisect.bisect_left(times, s)  # fixes before the window: times[:first_in]
        active = False
        if first_in > 0 and side[first_in - 1] == -1 and (s - times[first_in - 1]).total_seconds() <= PRESENCE_AGE:
            out.append(("curfew_breach_started", s))
            active = True
        due = s + timedelta(seconds=NO_FIX)
        if due < e and due <= end and not (first_in < len(times) and times[first_in] < due):
            out.append(("curfew_no_fix", due))
        for i in range(first_in, bisect.bisect_left(times, e)):
            if not active and side[i] == -1 and sure[i] == -1:
                out.append(("curfew_breach_started", times[i]))
                active = True
            elif active and side[i] == 1:
                out.append(("curfew_breach_ended", times[i]))
                active = False
        if active and e <= end:
            out.append(("curfew_breach_ended", e))
    return sorted(out)


@pytest.mark.parametrize("person", PEOPLE)
def test_curfew_events_on_real_trails_match_an_independent_computation(person):
    pts = load(person)
    home = home_of(pts)
    end = pts[-1][0] + timedelta(hours=12)
    got = sorted((e.kind, e.at) for e in engine_events(pts, home, end) if e.kind.startswith("curfew"))
    want = independent_events(pts, home, end)
    assert got == want
    # The replay exercises real breaches, not only an empty list.
    assert any(k == "curfew_breach_started" for k, _ in want), person


def test_the_batch_path_replays_real_trails_to_the_same_curfew_events():
    from custodes.rules.batch import BatchEvaluator, FixBatch

    people = [load(p) for p in PEOPLE]
    homes = [home_of(p) for p in people]
    rules = [RuleSet(zones=(ZoneRule("home", "inclusion", Circle(*h, RADIUS), margin_m=MARGIN, min_dwell_s=DWELL),),
                     curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2008, 1, 1, 22), timedelta(hours=8),
                                         tz=TZ, no_fix_after_s=NO_FIX),), presence_max_age_s=PRESENCE_AGE)
             for h in homes]
    ev = BatchEvaluator(["p0", "p1", "p2"], rules)
    fixes = sorted(((f[0], i, f) for i, pts in enumerate(people) for f in pts), key=lambda x: (x[0], x[1]))
    end = max(p[-1][0] for p in people) + timedelta(hours=12)
    got: dict[int, list] = {0: [], 1: [], 2: []}
    chunk = 4000  # uploads of a few thousand fixes, all people mixed, as a worker would see them
    for lo in range(0, len(fixes), chunk):
        part = fixes[lo:lo + chunk]
        batch = FixBatch.from_fixes([i for _, i, _ in part],
                                    [Fix(t, lat, lon, ACC, fix_id=lo + n) for n, (t, _, (_, lat, lon)) in enumerate(part)])
        for e in ev.evaluate(batch, part[-1][0]):
            got[int(e.dedupe_key[1])].append(e)
    for e in ev.tick(end):
        got[int(e.dedupe_key[1])].append(e)
    for i, pts in enumerate(people):
        mine = sorted((e.kind, e.at) for e in got[i] if e.kind.startswith("curfew"))
        assert mine == independent_events(pts, homes[i], end), PEOPLE[i]
