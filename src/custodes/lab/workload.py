"""The ingest benchmark's synthetic workload: a London population and their signed-to-be batches.

Homes are 100 m circles; each person has 0-5 exclusion zones, some of them shared London boroughs
(../shared/data/zones), others small circles near home; everyone has a 19:00-07:00 curfew. People
stay near home with GPS jitter, make daytime trips of 1-3 km, and a few trips at night.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from custodes.config import data_root
from custodes.lab.population import Monitored, enrol

LONDON = ZoneInfo("Europe/London")
STEP_S = 15  # one fix every 15 s: the rate of a person during a violation
NIGHT_TRIP = 0.03  # chance that a batch holds a night-time trip away from home (a curfew breach)


def boroughs() -> list[dict]:
    path = data_root() / "zones" / "london_boroughs.geojson"
    if not path.exists():
        raise SystemExit(f"{path} is missing: set CUSTODES_DATA to the shared data folder")
    return [f["geometry"] for f in json.loads(path.read_text())["features"]]


def population(container, agency, rng, n: int, since: datetime, until: datetime) -> list[Monitored]:
    import shapely

    shared = boroughs()
    shapes = [shapely.geometry.shape(g) for g in shared]
    people = []
    for _ in range(n):
        lat, lon = rng.uniform(51.40, 51.60), rng.uniform(-0.30, 0.10)
        zones: list[dict] = []
        for _z in range(int(rng.integers(0, 6))):
            b = int(rng.integers(len(shared)))
            if rng.random() < 0.3 and not shapes[b].contains(shapely.Point(lon, lat)):
                zones.append(shared[b])  # shared with everyone else who drew this borough
            else:
                dy, dx = rng.uniform(-3000, 3000, 2)
                zones.append({"circle": {"lat": lat + dy / 111_320, "lon": lon + dx / 69_500,
                                         "radius_m": float(rng.uniform(100, 400))}})
        people.append(enrol(container, agency, home=(lat, lon), since=since, until=until, exclusions=zones,
                            curfew=(since.strftime("%Y-%m-%dT19:00:00"), 12 * 60)))
    return people


def batches(rng, people: list[Monitored], per_device: int, size: int, end: datetime):
    """Bodies in upload order (round robin over devices). Mostly at home; some trips of 1-3 km."""
    from custodes.lab.device_client import encode

    span = timedelta(seconds=STEP_S * size)
    start = end - per_device * span
    out = []
    for k in range(per_device):
        for p in people:
            t0 = start + k * span
            lat = p.home[0] + rng.normal(0, 1e-4, size)
            lon = p.home[1] + rng.normal(0, 1.5e-4, size)
            # Trips of 1-3 km lasting a tenth of the batch: most by day, a few at night (curfew breaches).
            local = t0.astimezone(LONDON)
            hours = ((local.hour + local.minute / 60 + np.arange(size) * STEP_S / 3600) % 24)
            for night, p_trip in ((False, 0.3), (True, NIGHT_TRIP)):
                ok = np.flatnonzero(((hours >= 19) | (hours < 7)) == night)
                ok = ok[ok < size - size // 10]  # the trip ends inside the batch
                if len(ok) and rng.random() < p_trip:
                    a, m = int(rng.choice(ok)), size // 10
                    ramp = np.minimum(1.0, np.minimum(np.arange(m), np.arange(m)[::-1]) / 20)  # ~5 min out
                    lat[a:a + m] += rng.uniform(0.01, 0.03) * ramp[: len(lat[a:a + m])]
            acc = np.where(rng.random(size) < 0.95, rng.uniform(4, 15, size), rng.uniform(300, 1500, size)).round(1)
            items = [{"kind": "fix", "time": (t0 + timedelta(seconds=STEP_S * i)).isoformat().replace("+00:00", "Z"),
                      "lat": round(float(lat[i]), 7), "lon": round(float(lon[i]), 7), "accuracy_m": float(acc[i]),
                      "source": "gps" if acc[i] < 100 else "cell"} for i in range(size)]
            out.append((p, k, encode(k, items)))
    return out
