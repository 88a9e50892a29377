"""The wire format and its item-by-item validation; the packed trail segment. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from custodes.telemetry import segment
from custodes.telemetry.schemas import (
    MAX_ITEMS,
    BatchRefused,
    FixColumns,
    validate_batch,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def item(i: int, **over) -> dict:
    base = {"kind": "fix", "time": (NOW - timedelta(seconds=100 - i)).isoformat(), "lat": 51.5, "lon": -0.1,
            "accuracy_m": 12.5, "source": "gps"}
    return {**base, **over}


def body(items, seq=1) -> bytes:
    return json.dumps({"v": 1, "seq": seq, "items": items}).encode()


def test_valid_batch_becomes_columns_with_item_indices():
    vb = validate_batch(body([item(0), item(1, source="wifi", speed_mps=0.0)]), now=NOW, not_before=None)
    assert vb.seq == 1 and len(vb.fixes) == 2 and vb.rejected == []
    assert vb.fixes.index.tolist() == [0, 1]
    assert vb.fixes.source.tolist() == [0, 2]
    assert vb.fixes.speed_mps[1] == 0.0 and np.isnan(vb.fixes.speed_mps[0])  # 0 m/s is not "no speed"


@pytest.mark.parametrize("over,reason", [
    ({"lat": float("nan")}, "lat: Input should be a finite number"),
    ({"lon": 181}, "lon"),
    ({"lat": -90.5}, "lat"),
    ({"accuracy_m": -1}, "accuracy_m"),
    ({"source": "bluetooth"}, "source"),
    ({"time": "2027-03-01T12:00:00"}, "time"),  # no zone: ambiguous, refused
    ({"time": (NOW + timedelta(minutes=5, seconds=1)).isoformat()}, "future"),
    ({"time": "2027-01-31T23:59:59Z"}, "before the monitoring order"),
    ({"colour": "red"}, "colour"),
])
def test_each_bad_fix_is_rejected_alone_with_its_index(over, reason):
    items = [item(0), item(1, **over), item(2)]
    vb = validate_batch(body(items), now=NOW, not_before=datetime(2027, 2, 1, tzinfo=UTC))
    assert [r.index for r in vb.rejected] == [1]
    assert reason in vb.rejected[0].reason
    assert vb.fixes.index.tolist() == [0, 2]


def test_a_bad_status_refuses_the_batch_whole():
    st = {"kind": "status", "time": NOW.isoformat(), "battery_pct": 50, "strap": "loose", "charging": False}
    with pytest.raises(BatchRefused) as exc:
        validate_batch(body([item(0), st]), now=NOW, not_before=None)
    assert [r.index for r in exc.value.rejected] == [1]


def test_envelope_errors_refuse_everything():
    for raw in (b"not json", b"[]", json.dumps({"v": 2, "seq": 1, "items": []}).encode(),
                json.dumps({"v": 1, "seq": -1, "items": []}).encode(),
                json.dumps({"v": 1, "items": []}).encode()):
        with pytest.raises(BatchRefused):
            validate_batch(raw, now=NOW, not_before=None)
    too_many = body([item(0)] * (MAX_ITEMS + 1))
    with pytest.raises(BatchRefused, match="too many"):
        validate_batch(too_many, now=NOW, not_before=None)
    assert len(validate_batch(body([item(0)] * MAX_ITEMS), now=NOW, not_before=None).fixes) == MAX_ITEMS


def test_ndjson_reports_a_malformed_line_by_index():
    lines = [json.dumps({"v": 1, "seq": 4}), json.dumps(item(0)), "{oops", json.dumps(item(2))]
    vb = validate_batch("\n".join(lines).encode(), now=NOW, not_before=None, ndjson=True)
    assert [(r.index, r.reason.split(":")[0]) for r in vb.rejected] == [(1, "malformed JSON")]
    assert vb.fixes.index.tolist() == [0, 2]


def test_segment_round_trip_sorts_by_time_and_keeps_accuracy():
    rng = np.random.default_rng(7)
    n = 500
    t = 1_800_000_000_000 + rng.permutation(n).astype(np.int64) * 15_000  # out of order
    cols = FixColumns(np.arange(n, dtype=np.int32), t, 51.5 + rng.normal(0, 0.01, n), -0.1 + rng.normal(0, 0.01, n),
                      rng.uniform(1, 5000, n).astype(np.float32), rng.integers(0, 3, n).astype(np.uint8),
                      np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 40, n)).astype(np.float32))
    blob = segment.pack(cols)
    back = segment.unpack(blob)
    order = np.argsort(t)
    assert (back.t_ms == t[order]).all() and (np.diff(back.t_ms) >= 0).all()
    assert (back.index == cols.index[order]).all()
    assert np.abs(back.lat - cols.lat[order]).max() <= 0.6e-7 and np.abs(back.lon - cols.lon[order]).max() <= 0.6e-7
    assert (back.accuracy_m == cols.accuracy_m[order]).all()
    assert np.array_equal(np.isnan(back.speed_mps), np.isnan(cols.speed_mps[order]))
    assert len(blob) / n < 25  # bytes per fix before any database overhead
