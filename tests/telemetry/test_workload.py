"""The ingest benchmark's workload is valid input: people enrol, batches validate and evaluate."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from custodes.lab import ingest_bench as bench
from custodes.lab import workload
from custodes.telemetry.schemas import validate_batch


def test_workload_enrols_and_its_batches_validate_and_evaluate(container, clock, agencies):
    rng = np.random.default_rng(5)
    now = clock.now()
    people = workload.population(container, agencies["home_office"], rng, 3, now - timedelta(days=3),
                                 now + timedelta(days=30))
    work = workload.batches(rng, people, 2, 300, now - timedelta(minutes=1))
    assert len(work) == 6 and {p.device_id for p, _, _ in work} == {p.device_id for p in people}
    for _, _, body in work:
        vb = validate_batch(body, now=now, not_before=now - timedelta(days=3))
        assert len(vb.fixes) == 300 and not vb.rejected
    assert bench._baseline(work, container)["fixes"] == 6 * 300
