"""Zone geometry and the zone hysteresis: is a fix confidently inside, outside, or uncertain?

Each zone is compiled once into its own local metric frame (an equirectangular tangent plane on
the WGS84 ellipsoid at the zone's centre), so a fix needs only an affine map to metres. Within
20 km of the centre distances are off by under 0.1 % (checked against pyproj.Geod in the tests);
fixes and boundary go through the same map, so containment itself is unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import shape

from custodes.rules.models import Circle, ZoneRule, ZoneState

_A = 6378137.0
_E2 = 6.69437999014e-3
_GRID_PAD_M = 250.0
_GRID_TARGET_CELLS = 40_000
SMALL_EDGES = 32  # polygons with at most this many edges skip the raster
_CLEAR_CAP_M = 200.0  # fixes needing more clearance than this take the exact path


def metres_per_degree(lat0: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) at latitude `lat0` on WGS84."""
    s = math.sin(math.radians(lat0))
    w = 1.0 - _E2 * s * s
    m = _A * (1.0 - _E2) / w**1.5
    n = _A / math.sqrt(w)
    return n * math.cos(math.radians(lat0)) * math.pi / 180.0, m * math.pi / 180.0


@dataclass(frozen=True, eq=False)
class Grid:
    """Pre-classified raster over a polygon: side of each cell and its guaranteed clearance (m)."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    inside: np.ndarray  # bool (ny*nx)
    clear: np.ndarray  # float32 (ny*nx): every point of the cell is at least this far from the edge
    pad: float  # points outside the raster are outside the polygon by at least this


@dataclass(frozen=True, eq=False)
class Shape:
    """The geometry of one zone in its local frame; shared by every rule set that uses it."""

    lat0: float
    lon0: float
    kx: float
    ky: float
    radius: float | None  # circles
    polygon: shapely.Geometry | None
    edges: shapely.STRtree | None
    segs: np.ndarray | None = None  # (m, 4) edges of a small polygon, decided in plain numpy

    def to_xy(self, lon, lat):
        return (np.asarray(lon, dtype=np.float64) - self.lon0) * self.kx, (
            np.asarray(lat, dtype=np.float64) - self.lat0) * self.ky

    def side_and_distance(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Exact (inside?, distance to the boundary in metres) for arrays of points."""
        x, y = self.to_xy(lon, lat)
        if self.radius is not None:
            s = np.hypot(x, y) - self.radius
            return s < 0, np.abs(s)
        if self.segs is not None:
            return small_polygon_side(self.segs[None], np.zeros(len(x), np.int64), x, y)
        inside = shapely.contains_xy(self.polygon, x, y)
        _, dist = self.edges.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
        return inside, dist

    @property
    def grid(self) -> Grid:
        return _grid(self)


@dataclass(frozen=True, eq=False)
class CompiledZone:
    rule: ZoneRule
    shape: Shape

    def classify(self, lon, lat, accuracy_m) -> np.ndarray:
        """+1 confidently inside, -1 confidently outside, 0 uncertain (exact)."""
        need = np.asarray(accuracy_m, dtype=np.float64) + self.rule.margin_m
        s = self.shape
        if s.radius is not None:
            return classify_circles(np.asarray(lon, np.float64), np.asarray(lat, np.float64), need,
                                    s.lat0, s.lon0, s.kx, s.ky, s.radius)
        inside, dist = s.side_and_distance(lon, lat)
        return sides(inside, dist >= need)

    def signed_distance(self, lon: float, lat: float) -> float:
        """Metres from the boundary, negative inside (for evidence)."""
        inside, dist = self.shape.side_and_distance([lon], [lat])
        return float(-dist[0] if inside[0] else dist[0])


_KEYS: dict[int, tuple] = {}  # id(geojson dict) -> (dict, key): shared zones are serialised once


def sides(inside: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """+1 where surely inside, -1 where surely outside, else 0 (int8)."""
    return (sure & inside).view(np.int8) - (sure & ~inside).view(np.int8)


def classify_circles(lon, lat, need, lat0, lon0, kx, ky, radius) -> np.ndarray:
    """Circle classes from squared distances (no square roots): the whole accuracy circle plus
    margin must lie inside (d + need <= r, d < r) or outside (d >= r + need)."""
    x = (lon - lon0) * kx
    y = (lat - lat0) * ky
    d2 = x * x + y * y
    inner = radius - need
    outer = radius + need
    inside = (inner >= 0) & (d2 <= inner * inner) & (d2 < radius * radius)
    outside = d2 >= outer * outer
    return inside.view(np.int8) - outside.view(np.int8)


def _geometry_key(geometry) -> tuple:
    if isinstance(geometry, Circle):
        return ("circle", geometry.lat, geometry.lon, geometry.radius_m)
    if isinstance(geometry, dict):
        hit = _KEYS.get(id(geometry))
        if hit is not None and hit[0] is geometry:
            return hit[1]
        import json

        key = ("geojson", json.dumps(geometry.get("geometry", geometry), sort_keys=True))
        if len(_KEYS) > 4096:
            _KEYS.clear()
        _KEYS[id(geometry)] = (geometry, key)
        return key
    raise ValueError("zone geometry must be a GeoJSON dict or a Circle")


def compile_zone(rule: ZoneRule) -> CompiledZone:
    if rule.kind not in ("inclusion", "exclusion"):
        raise ValueError(f"zone {rule.zone_id}: kind must be inclusion or exclusion")
    if rule.margin_m < 0 or rule.min_dwell_s < 0:
        raise ValueError(f"zone {rule.zone_id}: margin and dwell must not be negative")
    return CompiledZone(rule, _compile_shape(_geometry_key(rule.geometry)))


@lru_cache(maxsize=4096)
def _compile_shape(key: tuple) -> Shape:
    if key[0] == "circle":
        _, lat, lon, r = key
        if not r > 0:
            raise ValueError("circle radius must be positive")
        kx, ky = metres_per_degree(lat)
        return Shape(lat, lon, kx, ky, float(r), None, None)
    import json

    geom = shape(json.loads(key[1]))
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise ValueError("zone geometry must be a non-empty Polygon or MultiPolygon")
    minx, miny, maxx, maxy = geom.bounds
    lat0, lon0 = (miny + maxy) / 2, (minx + maxx) / 2
    kx, ky = metres_per_degree(lat0)
    local = shapely.transform(geom, lambda c: (c - [lon0, lat0]) * [kx, ky])
    local = shapely.make_valid(local) if not local.is_valid else local
    shapely.prepare(local)
    rings = shapely.get_parts(shapely.get_parts(local.boundary))
    segs = []
    for ring in rings:
        c = shapely.get_coordinates(ring)
        segs.append(np.stack([c[:-1], c[1:]], axis=1))
    segs = np.concatenate(segs)
    edges = shapely.STRtree(shapely.linestrings(segs))
    small = segs.reshape(-1, 4) if len(segs) <= SMALL_EDGES else None
    return Shape(lat0, lon0, kx, ky, None, local, edges, small)


def small_polygon_side(segs: np.ndarray, which: np.ndarray, x: np.ndarray, y: np.ndarray):
    """(inside?, distance to the boundary) against polygons `segs[which]` (edge lists padded with
    zero-length edges), by crossing number and point-to-segment distance, one edge at a time."""
    inside = np.zeros(len(x), bool)
    best = np.full(len(x), np.inf)
    for m in range(segs.shape[1]):
        ax, ay, bx, by = (segs[which, m, i] for i in range(4))
        dx, dy = bx - ax, by - ay
        px, py = x - ax, y - ay
        crosses = (ay > y) != (by > y)
        inside ^= crosses & (px < dx * py / np.where(crosses, dy, 1.0))
        u = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        best = np.minimum(best, np.hypot(px - u * dx, py - u * dy))
    return inside, best


@lru_cache(maxsize=1024)
def _grid(s: Shape) -> Grid:
    """Raster pre-classification, built lazily: only the batch path needs it."""
    if s.radius is not None:
        raise ValueError("circles need no grid")
    minx, miny, maxx, maxy = s.polygon.bounds
    minx, miny, maxx, maxy = minx - _GRID_PAD_M, miny - _GRID_PAD_M, maxx + _GRID_PAD_M, maxy + _GRID_PAD_M
    cell = max(10.0, math.sqrt((maxx - minx) * (maxy - miny) / _GRID_TARGET_CELLS))
    nx, ny = int(math.ceil((maxx - minx) / cell)), int(math.ceil((maxy - miny) / cell))
    cx = minx + (np.arange(nx) + 0.5) * cell
    cy = miny + (np.arange(ny) + 0.5) * cell
    gx, gy = np.meshgrid(cx, cy)
    inside = shapely.contains_xy(s.polygon, gx.ravel(), gy.ravel())
    half = cell * math.sqrt(0.5)
    # Exact distances only near the edge: blocks of 8x8 cells farther than the cap from the
    # boundary get the cap as their (lower-bound) clearance, which keeps compiling fast.
    b = 8
    by, bx = -(-ny // b), -(-nx // b)
    bcx = minx + (np.arange(bx) + 0.5) * cell * b
    bcy = miny + (np.arange(by) + 0.5) * cell * b
    bgx, bgy = np.meshgrid(bcx, bcy)
    near_block = shapely.dwithin(s.polygon.boundary, shapely.points(bgx.ravel(), bgy.ravel()),
                                 _CLEAR_CAP_M + b * half).reshape(by, bx)
    near = np.repeat(np.repeat(near_block, b, axis=0), b, axis=1)[:ny, :nx].ravel()
    dist = np.full(nx * ny, _CLEAR_CAP_M + half)
    idx = np.flatnonzero(near)
    dist[idx] = _edge_distance(s, gx.ravel()[idx], gy.ravel()[idx])
    dist = np.minimum(dist, _CLEAR_CAP_M + half)
    # A cell is wholly on its centre's side when the edge is farther than its half-diagonal;
    # the millimetre takes away float32 rounding so the raster can only ever be conservative.
    clear = np.maximum(dist - half - 1e-3, 0.0).astype(np.float32)
    pad = _GRID_PAD_M - 1e-3
    return Grid(minx, miny, cell, nx, ny, inside, clear, pad)


def _edge_distance(s: Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance to the nearest edge; plain numpy for small polygons (home squares), else the tree."""
    segs = shapely.get_coordinates(s.edges.geometries).reshape(-1, 4)
    if len(segs) > 64:
        return s.edges.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)[1]
    ax, ay, bx, by = (segs[:, i][None, :] for i in range(4))
    dx, dy = bx - ax, by - ay
    px, py = x[:, None] - ax, y[:, None] - ay
    u = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
    return np.hypot(px - u * dx, py - u * dy).min(axis=1)


def step_zone(zs: ZoneState, side: int, at: datetime, dwell_s: float) -> tuple[ZoneState, bool]:
    """Advance one zone's hysteresis with a classified fix; True when the confirmed side changed.

    An uncertain fix (side 0) changes nothing. A fix on the confirmed side cancels a pending
    change. A fix on the other side starts (or continues) a pending change, confirmed once the
    other side has held for `dwell_s` without a contrary fix.
    """
    if side == 0:
        return zs, False
    if side == zs.side:
        return (ZoneState(zs.side, zs.since) if zs.pending else zs), False
    since = zs.pending_since if zs.pending == side else at
    if at - since >= timedelta(seconds=dwell_s):
        return ZoneState(side, at, 0, None), True
    return ZoneState(zs.side, zs.since, side, since), False
