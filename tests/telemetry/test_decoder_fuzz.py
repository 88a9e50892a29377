"""Fuzzing the telemetry decoder: whatever bytes arrive, `validate_batch` answers a ValidatedBatch or
refuses with BatchRefused, and nothing else (no other exception, no hang)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.telemetry.schemas import BatchRefused, ValidatedBatch, parse_batch, validate_batch

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 1, tzinfo=UTC)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)
times = st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat()), st.text(max_size=30),
                  st.integers())
numbers = st.one_of(st.floats(), st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=5), st.none())
fixes = st.fixed_dictionaries(
    {"kind": st.sampled_from(["fix", "status", "other"]), "time": times, "lat": numbers, "lon": numbers,
     "accuracy_m": numbers, "source": st.sampled_from(["gps", "cell", "wifi", "x"])},
    optional={"speed_mps": numbers, "battery_pct": numbers, "strap": st.sampled_from(["closed", "cut", 1]),
              "charging": st.booleans() | numbers, "extra": json_values})
batches = st.fixed_dictionaries({"v": st.sampled_from([1, 2, "1", None]),
                                 "seq": st.integers(min_value=-5, max_value=2**64) | numbers,
                                 "items": st.lists(fixes | json_values, max_size=20)})


def _decode(body: bytes, ndjson: bool) -> None:
    try:
        out = validate_batch(body, now=NOW, not_before=START, ndjson=ndjson)
    except BatchRefused as exc:
        assert exc.reason
        return
    assert isinstance(out, ValidatedBatch)
    assert out.accepted_count + len(out.rejected) <= max(out.item_count, 1) + len(out.rejected)


@FUZZ
@given(body=st.binary(max_size=2000), ndjson=st.booleans())
def test_any_bytes(body, ndjson):
    _decode(body, ndjson)


@FUZZ
@given(batch=batches)
def test_structured_batches(batch):
    _decode(json.dumps(batch).encode(), ndjson=False)
    header = {k: v for k, v in batch.items() if k != "items"}
    ndjson = "\n".join(json.dumps(x) for x in [header, *batch["items"]]).encode()
    _decode(ndjson, ndjson=True)


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from([b"[", b'{"a":']))
def test_nesting_of_any_depth(depth, opener):
    closer = b"]" if opener == b"[" else b"}"
    body = b'{"v": 1, "seq": 1, "items": [' + opener * depth + b"1" + closer * depth + b"]}"
    _decode(body, ndjson=False)
    _decode(b'{"v": 1, "seq": 1}\n' + opener * depth, ndjson=True)
    try:
        parse_batch(opener * depth, ndjson=False)
    except BatchRefused:
        pass
