"""One vectorised call over many devices' batches of a turn gives each subject exactly what the
per-subject `evaluate` gives, across a curfew opening (window openings decided in columns)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from custodes.rules import SubjectState
from custodes.telemetry.evaluation import Run, evaluate, evaluate_many
from tests.telemetry.test_evaluation import RULES, walk


def test_a_turn_of_many_subjects_equals_one_subject_at_a_time():
    rng = np.random.default_rng(7)
    start = datetime(2027, 5, 4, 17, 40, tzinfo=UTC)  # 18:40 London: the 19:00 window opens mid-way
    now = start + timedelta(hours=3)
    n = 40
    cols = [walk(rng, start, 400, 15) for _ in range(n)]
    one = [SubjectState(f"s{i}", curfews_checked_to=start - timedelta(minutes=1)) for i in range(n)]
    many = list(one)
    device = uuid.uuid4()
    events_one: list = [[] for _ in range(n)]
    events_many: list = [[] for _ in range(n)]
    for seq, lo in enumerate(range(0, 400, 40)):  # ten turns of 40-fix batches from every device
        part = [c.take(np.arange(lo, lo + 40)) for c in cols]
        for i in range(n):
            one[i], ev = evaluate(one[i], RULES, now, device, seq, part[i], [])
            events_one[i] += ev
        res = evaluate_many([Run(many[i], RULES, device, seq, part[i], []) for i in range(n)], now)
        for i, (st, ev) in enumerate(res):
            many[i] = st
            events_many[i] += ev
    assert [st.to_dict() for st in many] == [st.to_dict() for st in one]
    assert [[e.to_dict() for e in ev] for ev in events_many] == [[e.to_dict() for e in ev] for ev in events_one]
    assert all("night" in st.windows for st in many)  # the window did open in between
    assert sum(len(e) for e in events_one) > 0
