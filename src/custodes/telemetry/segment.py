"""A trail segment: the accepted fixes of one batch, sorted by time and packed column by column.

Columns are delta-encoded integers (time in ms, lat/lon in 1e-7 degrees, about 1 cm) plus the
accuracy and speed as float32, then zlib-compressed. A few thousand fixes become one row, which is
what makes trails small (bytes per fix) and deletion by subject or by date cheap (few rows).

Format 2 is exact over the whole valid domain: time deltas (never negative, the fixes are sorted)
are uint32 when every gap in the segment is under 49.7 days and int64 otherwise, and position
deltas are taken modulo 2^32, so crossing ±180° (a delta of ~3.6e9) wraps on the way in and
unwraps on the way out. Format 1 (int32 time deltas, plain int32 position deltas) is still read.

Format 3 is what compaction writes (`pack_merged`): the fixes of many batches in one segment, so
each fix also carries its batch's sequence number (the `fix_id` leads back to its raw batch). The
integer columns are deltas taken modulo 2^width and zigzagged (small either way), every column is
byte-shuffled (all first bytes, then all second bytes...) so that the mostly-zero high bytes and the
repeating float exponents sit together, then zlib at level 9: compaction runs once per segment,
off the ingest path, so it can afford to squeeze. Floats are kept as their bits: exact.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from custodes.telemetry.schemas import FixColumns

FORMAT = 2
MERGED = 3
_HEAD_V1 = struct.Struct("<BIq")  # format, count, first time (Unix ms)
_HEAD = struct.Struct("<BIqB")  # format, count, first time (Unix ms), bytes per time delta (4 or 8)
_HEAD_V3 = struct.Struct("<BIqB")  # format 3, count, first time, bytes per time delta; then the columns
_E7 = 1e7
_LIMITS = (("lat", 90.0), ("lon", 180.0))


class NotStorable(ValueError):
    """A fix outside what a segment can hold exactly; `index` is its item index in the batch."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"item {index}: {reason}")
        self.index = index
        self.reason = reason


def canonical(cols: FixColumns) -> FixColumns:
    """The fixes exactly as a segment stores them: position rounded to 1e-7 degree, the rest as is."""
    return FixColumns(index=cols.index.astype(np.int32), t_ms=cols.t_ms.astype(np.int64),
                      lat=_e7(cols.lat) / _E7, lon=_e7(cols.lon) / _E7,
                      accuracy_m=cols.accuracy_m.astype(np.float32), source=cols.source.astype(np.uint8),
                      speed_mps=cols.speed_mps.astype(np.float32))


def pack(cols: FixColumns) -> bytes:
    """Pack fixes (any order) into one segment; they are stored sorted by their own time.

    Raises NotStorable for a fix outside the valid domain rather than storing something else."""
    _check(cols)
    order = np.argsort(cols.t_ms, kind="stable")
    c = cols.take(order)
    n = len(c)
    t0 = int(c.t_ms[0]) if n else 0
    dt = np.diff(c.t_ms.astype(np.int64), prepend=np.int64(t0))
    wide = bool(n and dt.max() > np.iinfo(np.uint32).max)
    body = b"".join(
        (
            dt.astype(np.int64 if wide else np.uint32).tobytes(),
            _wrapping_delta(_e7(c.lat)).tobytes(),
            _wrapping_delta(_e7(c.lon)).tobytes(),
            _wrapping_delta(c.index.astype(np.int64)).tobytes(),
            c.accuracy_m.astype(np.float32).tobytes(),
            c.speed_mps.astype(np.float32).tobytes(),
            c.source.astype(np.uint8).tobytes(),
        )
    )
    return _HEAD.pack(FORMAT, n, t0, 8 if wide else 4) + zlib.compress(body, 1)


def unpack(blob: bytes) -> FixColumns:
    return unpack_with_seq(blob, 0)[0]


def unpack_with_seq(blob: bytes, batch_seq: int) -> tuple[FixColumns, np.ndarray]:
    """The fixes and, for each, the sequence number of the batch it came in: `batch_seq` (the
    row's) for a one-batch segment, the stored one for a merged segment."""
    fmt = blob[0] if blob else None
    if fmt == MERGED:
        return _unpack_v3(blob)
    cols = _unpack_v1(blob) if fmt == 1 else _unpack_v2(blob)
    return cols, np.full(len(cols), batch_seq, np.int64)


def pack_merged(cols: FixColumns, seq: np.ndarray) -> bytes:
    """Pack fixes of several batches (`seq[i]` is fix i's batch) into one format-3 segment, sorted
    by (time, batch, item index): the order replays and reads use."""
    _check(cols)
    seq = np.asarray(seq, np.int64)
    order = np.lexsort((cols.index, seq, cols.t_ms))
    c, seq = cols.take(order), seq[order]
    n = len(c)
    t0 = int(c.t_ms[0]) if n else 0
    dt = np.diff(c.t_ms.astype(np.int64), prepend=np.int64(t0))
    wide = bool(n and dt.max() > np.iinfo(np.uint32).max)
    planes = (
        dt.astype(np.uint64 if wide else np.uint32),
        _zigzag32(_wrapping_delta(_e7(c.lat))),
        _zigzag32(_wrapping_delta(_e7(c.lon))),
        _zigzag32(_wrapping_delta(c.index.astype(np.int64))),
        _zigzag64(np.diff(seq, prepend=np.int64(0))),
        c.accuracy_m.astype(np.float32).view(np.uint32),
        c.speed_mps.astype(np.float32).view(np.uint32),
        c.source.astype(np.uint8),
    )
    body = b"".join(_shuffle(p) for p in planes)
    return _HEAD_V3.pack(MERGED, n, t0, 8 if wide else 4) + zlib.compress(body, 9)


def _unpack_v2(blob: bytes) -> FixColumns:
    fmt = blob[0] if blob else None
    if fmt != FORMAT:
        raise ValueError(f"unknown trail segment format {fmt}")
    _, n, t0, width = _HEAD.unpack_from(blob)
    raw = zlib.decompress(blob[_HEAD.size:])
    take = _reader(raw, n)
    dt = take(np.int64 if width == 8 else np.uint32)
    dlat, dlon, didx = take(np.uint32), take(np.uint32), take(np.uint32)
    acc, speed, src = take(np.float32), take(np.float32), take(np.uint8)
    return FixColumns(
        index=_unwrap(didx).astype(np.int32),
        t_ms=np.cumsum(dt.astype(np.int64), dtype=np.int64) + t0,
        lat=_unwrap(dlat) / _E7,
        lon=_unwrap(dlon) / _E7,
        accuracy_m=acc.copy(),
        source=src.copy(),
        speed_mps=speed.copy(),
    )


def _unpack_v3(blob: bytes) -> tuple[FixColumns, np.ndarray]:
    _, n, t0, width = _HEAD_V3.unpack_from(blob)
    raw = zlib.decompress(blob[_HEAD_V3.size:])
    off = 0

    def take(dtype):
        nonlocal off
        size = np.dtype(dtype).itemsize
        arr = _unshuffle(raw[off:off + n * size], dtype, n)
        off += n * size
        return arr

    dt = take(np.uint64 if width == 8 else np.uint32)
    dlat, dlon, didx = (_unzigzag32(take(np.uint32)) for _ in range(3))
    dseq = _unzigzag64(take(np.uint64))
    acc, speed, src = take(np.uint32).view(np.float32), take(np.uint32).view(np.float32), take(np.uint8)
    cols = FixColumns(
        index=_unwrap(didx).astype(np.int32),
        t_ms=np.cumsum(dt.astype(np.int64), dtype=np.int64) + t0,
        lat=_unwrap(dlat) / _E7,
        lon=_unwrap(dlon) / _E7,
        accuracy_m=acc,
        source=src,
        speed_mps=speed,
    )
    return cols, np.cumsum(dseq, dtype=np.int64)


def _zigzag32(d: np.ndarray) -> np.ndarray:
    """A uint32 modular delta read as a signed one, zigzagged: small either way round."""
    v = d.view(np.int32).astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint32)


def _unzigzag32(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.int64)
    return ((z >> 1) ^ -(z & 1)).astype(np.int32).view(np.uint32)


def _zigzag64(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def _unzigzag64(z: np.ndarray) -> np.ndarray:
    z = z.view(np.int64)
    return (z >> 1 & np.int64(0x7FFFFFFFFFFFFFFF)) ^ -(z & 1)


def _shuffle(a: np.ndarray) -> bytes:
    """Byte planes: byte 0 of every value, then byte 1 of every value, ..."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(len(a), a.itemsize).T.tobytes()


def _unshuffle(raw: bytes, dtype, n: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    planes = np.frombuffer(raw, np.uint8, count=n * size).reshape(size, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


def _check(cols: FixColumns) -> None:
    for name, limit in _LIMITS:
        bad = ~(np.abs(getattr(cols, name)) <= limit)  # also catches NaN
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise NotStorable(int(cols.index[i]), f"{name} {getattr(cols, name)[i]} outside ±{limit:g}")
    for name, limit in (("accuracy_m", 100_000.0), ("speed_mps", 1_000.0)):
        v = getattr(cols, name)
        bad = ~((v >= 0) & (v <= limit)) & ~(np.isnan(v) if name == "speed_mps" else False)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise NotStorable(int(cols.index[i]), f"{name} {v[i]} outside 0..{limit:g}")


def _e7(a: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(a, np.float64) * _E7).astype(np.int64)


def _wrapping_delta(a: np.ndarray) -> np.ndarray:
    """Deltas modulo 2^32: exact for any int32 values, whatever their jumps."""
    return (np.diff(a.astype(np.int64), prepend=np.int64(0)) & 0xFFFFFFFF).astype(np.uint32)


def _unwrap(d: np.ndarray) -> np.ndarray:
    """Inverse of `_wrapping_delta`: a modular running sum, read back as int32."""
    return np.cumsum(d, dtype=np.uint32).view(np.int32).astype(np.int64)


def _reader(raw: bytes, n: int):
    off = 0

    def take(dtype, count=n):
        nonlocal off
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=off)
        off += arr.nbytes
        return arr

    return take


def _unpack_v1(blob: bytes) -> FixColumns:
    _, n, t0 = _HEAD_V1.unpack_from(blob)
    take = _reader(zlib.decompress(blob[_HEAD_V1.size:]), n)
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
