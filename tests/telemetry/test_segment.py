"""Packed trail segments round-trip exactly over the whole valid domain of a fix (property-based).

The domain is what ingestion accepts: any time a datetime can hold (so any gap inside a batch),
any latitude and longitude including both sides of the antimeridian, accuracy 0-100 km, speed
0-1,000 m/s or none. "Exactly" means: what comes back is the canonical stored form (time to the
millisecond, position to 1e-7 degree, accuracy and speed as float32), bit for bit, and the
canonical form is within that resolution of what was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.telemetry import segment
from custodes.telemetry.schemas import FixColumns

MIN_MS = int(datetime(1, 1, 2, tzinfo=UTC).timestamp() * 1000)
MAX_MS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000

times = st.one_of(st.integers(MIN_MS, MAX_MS), st.integers(1_790_000_000_000, 1_800_000_000_000))
lats = st.floats(-90, 90, allow_nan=False)
lons = st.one_of(st.floats(-180, 180, allow_nan=False), st.sampled_from([-180.0, 180.0, 179.9999999, -179.9999999]),
                 st.floats(179.0, 180.0), st.floats(-180.0, -179.0))
accs = st.floats(0, 100_000, allow_nan=False, width=32)
speeds = st.one_of(st.none(), st.floats(0, 1_000, allow_nan=False, width=32))
fix = st.tuples(times, lats, lons, accs, speeds, st.integers(0, 2))


def columns(rows) -> FixColumns:
    n = len(rows)
    return FixColumns(
        index=np.arange(n, dtype=np.int32)[::-1].copy(),
        t_ms=np.array([r[0] for r in rows], np.int64),
        lat=np.array([r[1] for r in rows], np.float64),
        lon=np.array([r[2] for r in rows], np.float64),
        accuracy_m=np.array([r[3] for r in rows], np.float32),
        source=np.array([r[5] for r in rows], np.uint8),
        speed_mps=np.array([np.nan if r[4] is None else r[4] for r in rows], np.float32),
    )


def same(a: FixColumns, b: FixColumns) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=k == "speed_mps")
               and getattr(a, k).dtype == getattr(b, k).dtype for k in a.__dataclass_fields__)


@settings(max_examples=300, deadline=None)
@given(st.lists(fix, min_size=0, max_size=40))
def test_pack_then_unpack_gives_back_the_canonical_fixes_bit_for_bit(rows):
    cols = columns(rows)
    back = segment.unpack(segment.pack(cols))
    order = np.argsort(cols.t_ms, kind="stable")
    want = segment.canonical(cols.take(order))
    assert same(back, want)
    # the canonical form is within the stated resolution of what was sent, and is a fixed point
    assert (back.t_ms == cols.t_ms[order]).all()
    assert np.all(np.abs(back.lat - cols.lat[order]) <= 0.5e-7 + 1e-12)
    assert np.all(np.abs(back.lon - cols.lon[order]) <= 0.5e-7 + 1e-12)
    assert same(segment.unpack(segment.pack(back)), back)


@settings(max_examples=100, deadline=None)
@given(st.integers(1_790_000_000_000, 1_800_000_000_000), st.lists(st.integers(0, 400 * DAY_MS), min_size=1,
                                                                   max_size=20))
def test_any_gap_between_fixes_survives(t0, gaps):
    t = t0 + np.cumsum(np.array(gaps, np.int64))
    rows = [(int(x), 51.5, -0.12, 5.0, None, 0) for x in t]
    assert (segment.unpack(segment.pack(columns(rows))).t_ms == np.sort(t)).all()


def test_a_gap_of_more_than_25_days_and_an_antimeridian_crossing_round_trip():
    t0 = 1_800_000_000_000
    rows = [(t0, -17.8, 179.99, 5.0, 1.0, 0), (t0 + 26 * DAY_MS, -17.8, -179.99, 5.0, None, 0),
            (t0 + 60 * DAY_MS, 66.0, -180.0, 9.5, 3.0, 1), (t0 + 61 * DAY_MS, 66.0, 180.0, 9.5, 3.0, 2)]
    back = segment.unpack(segment.pack(columns(rows)))
    assert back.t_ms.tolist() == [r[0] for r in rows]
    assert back.lon.tolist() == [179.99, -179.99, -180.0, 180.0]


# Two fixes 10 s apart as the first format (int32 deltas) wrote them: stored segments keep reading.
FORMAT_1 = bytes.fromhex("010200000000505c18a30100007801636060601050676038e0b649ee05330343c386b7ff25fefcff0f14666004"
                         "110c0b1c80b2205c0fc4f60c8c0059160d47")


def test_format_1_segments_already_stored_still_read():
    back = segment.unpack(FORMAT_1)
    assert back.t_ms.tolist() == [1_800_000_000_000, 1_800_000_010_000]
    assert back.lat.tolist() == [51.5, 51.5001] and back.lon.tolist() == [-0.12, -0.1201]
    assert back.accuracy_m.tolist() == [5.0, 6.0] and back.index.tolist() == [0, 1]


def test_packing_refuses_what_it_cannot_hold_instead_of_wrapping():
    cols = columns([(0, 0.0, 0.0, 1.0, None, 0)])
    cols.lon[0] = 400.0  # outside the valid domain: never silently wrapped
    try:
        segment.pack(cols)
    except segment.NotStorable as exc:
        assert exc.index == 0 and "lon" in str(exc)
    else:
        raise AssertionError("an out-of-domain longitude was packed")
