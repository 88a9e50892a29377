"""Merged (format-3) segments round-trip exactly over the whole valid domain, with each fix's batch.

The same domain as format 2 (`test_segment.py`): any time, any gap, both sides of the antimeridian,
accuracy 0-100 km, speed 0-1,000 m/s or none; plus any batch sequence number (a signed 63-bit
integer) and any item index. What comes back is the canonical stored form bit for bit, sorted by
(time, batch, item), each fix with its own batch.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.telemetry import segment

from .test_segment import columns, fix, same

seqs = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 50))
indices = st.integers(0, 9_999)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(fix, seqs, indices), min_size=0, max_size=40))
def test_pack_merged_then_unpack_gives_back_every_fix_with_its_batch_bit_for_bit(rows):
    cols = columns([r[0] for r in rows])
    cols.index[:] = [r[2] for r in rows]
    seq = np.array([r[1] for r in rows], np.int64)
    back, back_seq = segment.unpack_with_seq(segment.pack_merged(cols, seq), 0)
    order = np.lexsort((cols.index, seq, cols.t_ms))
    assert same(back, segment.canonical(cols.take(order)))
    assert np.array_equal(back_seq, seq[order]) and back_seq.dtype == np.int64
    assert same(segment.unpack(segment.pack_merged(back, back_seq)), back)  # a fixed point


@settings(max_examples=100, deadline=None)
@given(st.lists(fix, min_size=1, max_size=30), st.integers(0, 2**63 - 1))
def test_a_one_batch_segment_reads_the_same_in_both_formats(rows, seq):
    cols = columns(rows)
    two, two_seq = segment.unpack_with_seq(segment.pack(cols), seq)
    three, three_seq = segment.unpack_with_seq(segment.pack_merged(cols, np.full(len(cols), seq)), 0)
    order = np.lexsort((two.index, two.t_ms))  # format 2 keeps arrival order among equal times
    assert same(two.take(order), three) and np.array_equal(two_seq, three_seq)


def test_merged_segments_refuse_what_they_cannot_hold_exactly():
    cols = columns([(1_800_000_000_000, 91.0, 0.0, 5.0, None, 0)])
    try:
        segment.pack_merged(cols, np.zeros(1, np.int64))
    except segment.NotStorable as exc:
        assert exc.index == 0 and "lat" in exc.reason
    else:
        raise AssertionError("a latitude of 91 was packed")
