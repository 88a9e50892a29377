"""Real trails to replay: GeoLife people (Beijing, UTC times) with the place they spend their nights,
or, only when the data folder is absent, synthetic random-walk trips around a London home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

GEOLIFE_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class Trip:
    """One recorded outing: seconds from its first point, and positions."""

    t_s: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    local_start_h: float  # local hour of day it started at

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0


@dataclass(frozen=True)
class Person:
    name: str
    home: tuple[float, float]
    tz: str
    trips: tuple[Trip, ...]
    synthetic: bool = False


def read_plt(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A GeoLife .plt file: 6 header lines, then `lat,lon,0,alt_ft,days,date,time` (UTC)."""
    t, lat, lon = [], [], []
    for line in path.read_text().splitlines()[6:]:
        p = line.split(",")
        if len(p) < 7:
            continue
        t.append(datetime.fromisoformat(f"{p[5]}T{p[6]}+00:00").timestamp())
        lat.append(float(p[0]))
        lon.append(float(p[1]))
    order = np.argsort(t, kind="stable")
    return np.asarray(t)[order], np.asarray(lat)[order], np.asarray(lon)[order]


def geolife_people(root: Path) -> list[Person]:
    people = []
    for folder in sorted(p for p in root.glob("*/*") if (p / "Trajectory").is_dir()):
        files = sorted((folder / "Trajectory").glob("*.plt"))
        trips, night = [], []
        for f in files:
            t, lat, lon = read_plt(f)
            if len(t) < 20 or t[-1] - t[0] < 600:
                continue
            start = datetime.fromtimestamp(t[0], UTC).astimezone(ZoneInfo(GEOLIFE_TZ))
            start_h = start.hour + start.minute / 60 + start.second / 3600
            trips.append(Trip(t - t[0], lat, lon, start_h))
            hours = (start_h + (t - t[0]) / 3600) % 24  # one offset per trip: a trip spans no DST change
            at_night = (hours < 6) | (hours >= 22)
            night.append(np.c_[lat[at_night], lon[at_night]])
        if not trips:
            continue
        pts = np.concatenate(night) if night else np.empty((0, 2))
        home = densest(pts) if len(pts) else (float(trips[0].lat[0]), float(trips[0].lon[0]))
        people.append(Person(f"{folder.parent.name}/{folder.name}", home, GEOLIFE_TZ, tuple(trips)))
    return people


def densest(pts: np.ndarray, radius_m: float = 300.0, most: int = 800) -> tuple[float, float]:
    """The night point with the most night points within `radius_m`: where the person sleeps (no night
    points: where the first outing started)."""
    pts = pts[:: max(1, len(pts) // most)]
    dy = (pts[:, None, 0] - pts[None, :, 0]) * 111_320.0
    dx = (pts[:, None, 1] - pts[None, :, 1]) * 111_320.0 * np.cos(np.radians(pts[:, None, 0]))
    best = int(((dx * dx + dy * dy) < radius_m**2).sum(axis=1).argmax())
    return float(pts[best, 0]), float(pts[best, 1])


def synthetic_people(n: int, rng: np.random.Generator) -> list[Person]:
    """Fallback only: random-walk outings of 1-3 hours at walking to bus speeds around London homes."""
    people = []
    for i in range(n):
        home = (51.45 + rng.random() * 0.12, -0.25 + rng.random() * 0.3)
        trips = []
        for _ in range(3):
            steps = int(rng.integers(200, 700))
            heading = np.cumsum(rng.normal(0, 0.3, steps)) + rng.random() * 6.28
            speed = rng.uniform(1.2, 8.0)  # m/s
            dy, dx = np.cos(heading) * speed * 15 / 111_320, np.sin(heading) * speed * 15 / 69_000
            trips.append(Trip(np.arange(steps) * 15.0, home[0] + np.cumsum(dy), home[1] + np.cumsum(dx),
                              float(rng.uniform(9, 16))))
        people.append(Person(f"synthetic/{i:03d}", home, "Europe/London", tuple(trips), synthetic=True))
    return people


def load_people(data: Path, n_fallback: int, rng: np.random.Generator) -> list[Person]:
    root = data / "gps" / "geolife-dev"
    people = geolife_people(root) if root.is_dir() else []
    return people or synthetic_people(n_fallback, rng)
