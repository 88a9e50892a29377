"""Vectorised zone kernels for the batch path: classify many (fix, zone) pairs at once and run
the hysteresis of many zones over time-ordered classes, with the same results as `zones`.

Circles are decided by distance. Polygons are decided by a pre-classified raster where the
cell's clearance covers the fix's accuracy plus margin, and exactly (shapely) only near edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custodes.rules.zones import Shape, classify_circles, sides, small_polygon_side

__all__ = ["Atlas", "SmallPolygons", "circles_one_side", "classify_circles", "hysteresis"]

NO_TIME = np.iinfo(np.int64).min  # "no instant" in µs columns


@dataclass(eq=False)
class Atlas:
    """Every polygon raster of a population in flat arrays, indexed by polygon number."""

    shapes: list[Shape]
    a_x: np.ndarray  # raster column = floor(lon * a_x + b_x)
    b_x: np.ndarray
    a_y: np.ndarray
    b_y: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    offset: np.ndarray
    pad: np.ndarray
    inside: np.ndarray
    clear: np.ndarray
    frame: np.ndarray  # (P, 3): kx, ky, cell

    @classmethod
    def build(cls, shapes: list[Shape]) -> Atlas:
        grids = [s.grid for s in shapes]
        a_x = np.array([s.kx / g.cell for s, g in zip(shapes, grids)])
        b_x = np.array([(-s.lon0 * s.kx - g.x0) / g.cell for s, g in zip(shapes, grids)])
        a_y = np.array([s.ky / g.cell for s, g in zip(shapes, grids)])
        b_y = np.array([(-s.lat0 * s.ky - g.y0) / g.cell for s, g in zip(shapes, grids)])
        sizes = [g.nx * g.ny for g in grids]
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if grids else np.zeros(0, np.int64)
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        return cls(shapes, a_x, b_x, a_y, b_y, np.array([g.nx for g in grids], np.int64),
                   np.array([g.ny for g in grids], np.int64), offset, np.array([g.pad for g in grids]),
                   cat([g.inside for g in grids], bool), cat([g.clear for g in grids], np.float32),
                   np.array([(s.kx, s.ky, g.cell) for s, g in zip(shapes, grids)]).reshape(-1, 3))

    def one_side(self, poly, lon_lo, lon_hi, lat_lo, lat_hi) -> np.ndarray:
        """Per group of points (their bounding box): +1/-1 when every point lies inside/outside,
        from the clearance at the box centre, else 0. Such points can only be that side or 0."""
        kx, ky, cell = self.frame[poly].T
        fx = (0.5 * (lon_lo + lon_hi)) * self.a_x[poly] + self.b_x[poly]
        fy = (0.5 * (lat_lo + lat_hi)) * self.a_y[poly] + self.b_y[poly]
        nx, ny = self.nx[poly], self.ny[poly]
        ix, iy = np.floor(fx), np.floor(fy)
        inr = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < ny)
        flat = np.where(inr, self.offset[poly] + iy.astype(np.int64) * nx + ix.astype(np.int64), 0)
        # Outside the raster the clearance is the pad plus the distance to the raster.
        away = np.hypot(np.maximum(np.maximum(-fx, fx - nx), 0), np.maximum(np.maximum(-fy, fy - ny), 0)) * cell
        clear = np.where(inr, self.clear[flat], self.pad[poly] + away)
        rho = 0.5 * np.hypot((lon_hi - lon_lo) * kx, (lat_hi - lat_lo) * ky) * (1 + 1e-9) + 1e-3
        return sides(inr & self.inside[flat], clear > rho)

    def classify(self, poly: np.ndarray, lon: np.ndarray, lat: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, int]:
        """Classes for pairs (polygon number, point, accuracy+margin); also how many went exact."""
        fx = np.floor(lon * self.a_x[poly] + self.b_x[poly])
        fy = np.floor(lat * self.a_y[poly] + self.b_y[poly])
        nx, ny = self.nx[poly], self.ny[poly]
        inr = (fx >= 0) & (fy >= 0) & (fx < nx) & (fy < ny)
        flat = np.where(inr, self.offset[poly] + fy.astype(np.int64) * nx + fx.astype(np.int64), 0)
        clear = np.where(inr, self.clear[flat], self.pad[poly])
        inside = inr & self.inside[flat]
        decided = (clear >= need) & (clear > 0)
        out = sides(inside, decided)
        todo = np.flatnonzero(~decided)
        if todo.size:
            order = todo[np.argsort(poly[todo], kind="stable")]
            cuts = np.flatnonzero(np.diff(poly[order])) + 1
            for part in np.split(order, cuts):
                s = self.shapes[poly[part[0]]]
                ins, dist = s.side_and_distance(lon[part], lat[part])
                out[part] = sides(ins, dist >= need[part])
        return out, int(todo.size)


@dataclass(eq=False)
class SmallPolygons:
    """Small polygons (home plots) as padded edge lists, decided exactly in numpy."""

    frame: np.ndarray  # (P, 4): lat0, lon0, kx, ky
    segs: np.ndarray  # (P, M, 4)
    reach: np.ndarray  # (P, 2): farthest vertex from the frame origin; clearance of the origin (-1 outside)

    @classmethod
    def build(cls, shapes: list[Shape]) -> SmallPolygons:
        m = max((len(s.segs) for s in shapes), default=1)
        # Padding edges sit a million km away: they never cross a ray nor come nearest.
        segs = np.full((len(shapes), m, 4), 1e9)
        for i, s in enumerate(shapes):
            segs[i, : len(s.segs)] = s.segs
        frame = np.array([(s.lat0, s.lon0, s.kx, s.ky) for s in shapes]).reshape(-1, 4)
        reach = np.zeros((len(shapes), 2))
        for i, s in enumerate(shapes):
            ins, d = small_polygon_side(s.segs[None], np.zeros(1, np.int64), np.zeros(1), np.zeros(1))
            reach[i] = np.hypot(s.segs[:, 0], s.segs[:, 1]).max(), d[0] if ins[0] else -1.0
        return cls(frame, segs, reach)

    def one_side(self, poly, lon_lo, lon_hi, lat_lo, lat_hi) -> np.ndarray:
        """+1/-1 for a group of points surely all inside/outside (by the polygon's inner and
        outer circles about its frame origin), else 0."""
        lat0, lon0, kx, ky = self.frame[poly].T
        near, far = box_distances((lon_lo - lon0) * kx, (lon_hi - lon0) * kx, (lat_lo - lat0) * ky, (lat_hi - lat0) * ky)
        r_out, r_in = self.reach[poly].T
        slack = 1e-6
        out = np.sqrt(near) - r_out > slack
        inn = np.sqrt(far) + slack < r_in
        return inn.view(np.int8) - out.view(np.int8)

    def classify(self, poly: np.ndarray, lon: np.ndarray, lat: np.ndarray, need: np.ndarray) -> np.ndarray:
        f = self.frame[poly]
        x, y = (lon - f[:, 1]) * f[:, 2], (lat - f[:, 0]) * f[:, 3]
        inside, dist = small_polygon_side(self.segs, poly, x, y)
        return sides(inside, dist >= need)


def box_distances(x_lo, x_hi, y_lo, y_hi):
    """Squared distances from the origin to the nearest and farthest points of boxes."""
    dx = np.maximum(np.maximum(x_lo, -x_hi), 0.0)
    dy = np.maximum(np.maximum(y_lo, -y_hi), 0.0)
    fx = np.maximum(np.abs(x_lo), np.abs(x_hi))
    fy = np.maximum(np.abs(y_lo), np.abs(y_hi))
    return dx * dx + dy * dy, fx * fx + fy * fy


def circles_one_side(lon_lo, lon_hi, lat_lo, lat_hi, lat0, lon0, kx, ky, radius) -> np.ndarray:
    """+1 when no point of the box can be classed outside by `classify_circles` (all within the
    radius), -1 when none can be classed inside; the float operations are the same and monotone,
    so no slack is needed."""
    near, far = box_distances((lon_lo - lon0) * kx, (lon_hi - lon0) * kx, (lat_lo - lat0) * ky, (lat_hi - lat0) * ky)
    r2 = radius * radius
    return (far < r2).view(np.int8) - (near >= r2).view(np.int8)


@dataclass
class Transitions:
    pair: np.ndarray  # index of the confirming pair
    side: np.ndarray
    old_side: np.ndarray
    old_since: np.ndarray
    held_since: np.ndarray


def hysteresis(group, t, c, side0, since0, pend0, psince0, dwell):
    """Run `zones.step_zone` for many zones at once.

    group: nondecreasing group number per pair (0..G-1); t: int64 µs, nondecreasing within a
    group; c: classes. Per group: confirmed side/since, pending side/since (µs) and dwell (µs).
    Returns the transitions and the final (side, since, pending, pending_since) per group.
    """
    side, since, pend, psince = side0.copy(), since0.copy(), pend0.copy(), psince0.copy()
    nz = np.flatnonzero(c)
    empty = np.zeros(0, np.int64)
    if nz.size == 0:
        return Transitions(empty, empty, empty, empty, empty), (side, since, pend, psince)
    g, tt, cc = group[nz], t[nz], c[nz]
    new_grp = np.ones(nz.size, bool)
    new_grp[1:] = g[1:] != g[:-1]
    new_run = new_grp.copy()
    new_run[1:] |= cc[1:] != cc[:-1]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    run_t0 = tt[starts].copy()
    # A group's first run may continue the change already pending in the state.
    first = starts[new_grp[starts]]
    cont = cc[first] == pend0[g[first]]
    run_t0[run_id[first[cont]]] = psince0[g[first[cont]]]
    t0 = run_t0[run_id]
    flag = (tt - t0) >= dwell[g]
    prev = np.zeros(nz.size, bool)
    prev[1:] = flag[:-1]
    ci = np.flatnonzero(flag & (new_run | ~prev))  # one confirming pair per confirming run
    cg, cs = g[ci], cc[ci].astype(np.int64)
    same = np.zeros(ci.size, bool)
    same[1:] = cg[1:] == cg[:-1]
    prev_side = np.where(same, np.roll(cs, 1), side0[cg])
    trans = cs != prev_side
    ti = ci[trans]
    tg, ts = g[ti], tt[ti]
    tsame = np.zeros(ti.size, bool)
    tsame[1:] = tg[1:] == tg[:-1]
    old_since = np.where(tsame, np.roll(ts, 1), since0[tg])
    out = Transitions(nz[ti], cs[trans], prev_side[trans], old_since, t0[ti])
    # Final state per group.
    if ci.size:
        last_c = np.flatnonzero(np.append(cg[1:] != cg[:-1], True))
        side[cg[last_c]] = cs[last_c]
    if ti.size:
        last_t = np.flatnonzero(np.append(tg[1:] != tg[:-1], True))
        since[tg[last_t]] = ts[last_t]
    last = np.flatnonzero(np.append(g[1:] != g[:-1], True))
    lg = g[last]
    keep = ~flag[last] & (cc[last] != side[lg])
    pend[lg] = np.where(keep, cc[last], 0)
    psince[lg] = np.where(keep, t0[last], NO_TIME)
    return out, (side, since, pend, psince)

