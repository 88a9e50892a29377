"""A trail segment: the accepted fixes of one batch, sorted by time and packed column by column.

Columns are delta-encoded integers (time in ms, lat/lon in 1e-7 degrees, about 1 cm) plus the
accuracy and speed as float32, then zlib-compressed. A few thousand fixes become one row, which is
what makes trails small (bytes per fix) and deletion by subject or by date cheap (few rows).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from custodes.telemetry.schemas import FixColumns

FORMAT = 1
_HEAD = struct.Struct("<BIq")  # format, count, first time (Unix ms)
_E7 = 1e7


def pack(cols: FixColumns) -> bytes:
    """Pack fixes (any order) into one segment; they are stored sorted by their own time."""
    order = np.argsort(cols.t_ms, kind="stable")
    c = cols.take(order)
    n = len(c)
    t0 = int(c.t_ms[0]) if n else 0
    lat = np.rint(c.lat * _E7).astype(np.int32)
    lon = np.rint(c.lon * _E7).astype(np.int32)
    body = b"".join(
        (
            _delta(c.t_ms - t0).astype(np.int32).tobytes(),
            _delta(lat).tobytes(),
            _delta(lon).tobytes(),
            _delta(c.index).astype(np.int32).tobytes(),
            c.accuracy_m.astype(np.float32).tobytes(),
            c.speed_mps.astype(np.float32).tobytes(),
            c.source.astype(np.uint8).tobytes(),
        )
    )
    return _HEAD.pack(FORMAT, n, t0) + zlib.compress(body, 1)


def unpack(blob: bytes) -> FixColumns:
    fmt, n, t0 = _HEAD.unpack_from(blob)
    if fmt != FORMAT:
        raise ValueError(f"unknown trail segment format {fmt}")
    raw = zlib.decompress(blob[_HEAD.size :])
    off = 0

    def take(dtype, count=n):
        nonlocal off
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=off)
        off += arr.nbytes
        return arr

    dt, dlat, dlon, didx = take(np.int32), take(np.int32), take(np.int32), take(np.int32)
    acc, speed, src = take(np.float32), take(np.float32), take(np.uint8)
    return FixColumns(
        index=np.cumsum(didx, dtype=np.int64).astype(np.int32),
        t_ms=np.cumsum(dt, dtype=np.int64) + t0,
        lat=np.cumsum(dlat, dtype=np.int64) / _E7,
        lon=np.cumsum(dlon, dtype=np.int64) / _E7,
        accuracy_m=acc.copy(),
        source=src.copy(),
        speed_mps=speed.copy(),
    )


def _delta(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64)
    out = np.empty_like(a)
    if len(a):
        out[0] = a[0]
        out[1:] = np.diff(a)
    return out.astype(np.int32)
