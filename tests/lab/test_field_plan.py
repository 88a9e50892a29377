"""The simulator's own ground truth and device behaviour, on real GeoLife trails, with no platform."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from custodes.config import data_root
from custodes.lab.field import plan as planning
from custodes.lab.field.device import SimDevice
from custodes.lab.field.trails import geolife_people

START = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)  # 22:00 in Beijing: a curfew starts


@pytest.fixture(scope="module")
def people():
    root = data_root() / "gps" / "geolife-dev"
    assert root.is_dir(), f"GeoLife sample missing: {root} (set CUSTODES_DATA)"
    found = geolife_people(root)
    assert len(found) >= 10
    return found


def test_homes_are_where_the_nights_are_spent(people):
    """Independently: no other night point has many more night points within 300 m than home has."""
    checked = 0
    for p in people:
        night = []
        for tr in p.trips:
            hours = (tr.local_start_h + tr.t_s / 3600) % 24
            keep = (hours >= 22) | (hours < 6)
            night.append(np.c_[tr.lat[keep], tr.lon[keep]])
        pts = np.concatenate(night)[::10]
        if len(pts) < 200:
            continue
        around = lambda lat, lon: int((planning.metres(lat, lon, pts[:, 0], pts[:, 1]) < 300).sum())  # noqa: E731
        best = max(around(lat, lon) for lat, lon in pts[:: max(1, len(pts) // 200)])
        assert around(*p.home) >= 0.8 * best, p.name
        checked += 1
    assert checked >= 3


def test_a_planted_day_holds_every_kind_it_promises(people):
    rates = planning.Rates(curfew_breach=1, exclusion=1, strap=1, battery=1, silent=1, gap=1)
    plan = planning.build(people[2], START, 36, np.random.default_rng(3), rates)
    kinds = {k for k, _ in plan.expected}
    assert {"exclusion_zone_entered", "curfew_breach_started", "strap_opened", "battery_low", "battery_critical",
            "device_silent"} <= kinds
    # Independent check of the curfew breach: away from home at a local hour inside 22:00-06:00.
    t_breach = min(t for k, t in plan.expected if k == "curfew_breach_started")
    i = int(np.searchsorted(plan.t, t_breach))
    assert planning.metres(plan.home[0], plan.home[1], plan.lat[i:i + 1], plan.lon[i:i + 1])[0] > 250
    assert datetime.fromtimestamp(t_breach, planning.ZoneInfo(people[2].tz)).hour in (22, 23, 0, 1, 2, 3, 4, 5)


def test_a_quiet_day_plants_nothing(people):
    rates = planning.Rates(curfew_breach=0, exclusion=0, strap=0, battery=0, silent=0, gap=0)
    plan = planning.build(people[4], START, 30, np.random.default_rng(1), rates)
    assert plan.expected == []  # outings by day are allowed: home is the curfew address
    ex = plan.exclusion
    assert planning.metres(ex[0], ex[1], plan.lat, plan.lon).min() > 2000  # never near the exclusion zone


def test_the_device_sends_every_minute_every_15_s_in_violation_and_buffers_gaps(people):
    rates = planning.Rates(curfew_breach=1, exclusion=0, strap=0, battery=0, silent=0, gap=1)
    plan = planning.build(people[2], START, 30, np.random.default_rng(5), rates)
    d = SimDevice(plan, "dev", "secret", "ankle_tag", 180.0, np.random.default_rng(0))
    sent, now = [], float(plan.t[0])
    while now < plan.t[-1]:
        now += 180
        items = d.take(now)
        if items:
            sent += items
    fixes = [datetime.fromisoformat(f["time"]).timestamp() for f in sent if f["kind"] == "fix"]
    gaps = np.diff(sorted(fixes))
    assert set(np.unique(gaps)) <= {15.0, 30.0, 45.0, 60.0}
    assert (gaps == 15).sum() > 100  # the breach is sampled every 15 s
    assert d.late_uploads >= 1 and len(fixes) == len(set(fixes))  # the gap went up late, nothing twice
    assert all(0 <= f["accuracy_m"] <= 900 for f in sent if f["kind"] == "fix")


def test_every_planted_strap_opening_is_reported_by_the_device(people):
    """Seen in 1,000 people over 24 h: two openings planted while the device was switched off,
    which no status reported, so the platform could not raise them."""
    rates = planning.Rates(curfew_breach=0, exclusion=0, strap=1, battery=0, silent=1, gap=1)
    planted = 0
    for seed in range(40):
        plan = planning.build(people[2], START, 30, np.random.default_rng(seed), rates)
        d = SimDevice(plan, "dev", "secret", "ankle_tag", 180.0, np.random.default_rng(seed))
        sent, now = [], float(plan.t[0])
        while now < plan.t[-1]:
            now += 180
            sent += d.take(now) or []
        opened = [datetime.fromisoformat(x["time"]).timestamp() for x in sent
                  if x["kind"] == "status" and x["strap"] == "open"]
        for kind, at in plan.expected:
            if kind == "strap_opened":
                planted += 1
                assert any(at <= x <= at + 600 for x in opened), (seed, at, plan.silent)
    assert planted >= 30


def test_a_visit_is_one_planted_entry_until_the_person_is_clearly_out_again():
    """Seen on PostgreSQL (200 people, 8 h): a trail wandering between 50 and 100 m inside a zone
    planted an entry per dip (9 for one person) where the platform raised 3 visits."""
    t = np.arange(0, 3600, planning.STEP_S)
    depth = np.full(len(t), -200.0)  # metres inside the zone's edge (negative: outside)
    depth[20:120] = np.where(np.arange(100) % 20 < 10, 100.0, 50.0)  # in and out of "60 m inside", 5 min each
    depth[160:200] = 100.0  # clearly out for ten minutes in between, then a second visit
    inside, clear = depth > 60, depth < -60
    visits = planning._visits(t, inside, clear, min_s=120)
    assert visits == [t[20], t[160]]
    assert len(planning._runs(inside, 120)) == 6  # run by run, as the ground truth counted before
