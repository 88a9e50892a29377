"""Implausible movement: two fixes further apart than any real journey allows (GPS fault or spoof).

The distance is shrunk by both accuracy radii first, so coarse cell fixes do not look like jumps.
A run of implausible steps is one episode and raises one event.
"""

from __future__ import annotations

import numpy as np

from custodes.rules.models import Event, Fix, iso

EARTH_RADIUS_M = 6371008.8


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (numpy arrays or floats)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def implausible(dist_m, acc1, acc2, dt_s, max_speed_mps):
    """True where even the most favourable reading of both fixes needs more than the top speed."""
    return (dist_m - acc1 - acc2) > max_speed_mps * dt_s


def movement_event(subject_id: str, prev: Fix, fix: Fix, dist_m: float, max_speed_mps: float) -> Event:
    dt = (fix.at - prev.at).total_seconds()
    ev = {"from_fix_id": prev.fix_id, "to_fix_id": fix.fix_id, "from_at": iso(prev.at), "to_at": iso(fix.at),
          "distance_m": round(float(dist_m), 1), "seconds": dt,
          "min_speed_mps": round(max(float(dist_m) - prev.accuracy_m - fix.accuracy_m, 0.0) / dt, 2),
          "max_speed_mps": max_speed_mps, "source": fix.source}
    return Event("implausible_movement", "integrity", "medium", fix.at, ev,
                 f"{subject_id}:implausible_movement:{iso(fix.at)}")
