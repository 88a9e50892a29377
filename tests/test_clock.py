"""The accelerated clock of field simulations: the API and each worker, made at different instants,
must read one simulated time when given one origin."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from custodes.clock import AcceleratedClock


def test_clocks_given_one_origin_read_one_simulated_time():
    origin = datetime.now(UTC) - timedelta(seconds=2)
    first = AcceleratedClock(60, origin=origin)
    time.sleep(0.3)
    second = AcceleratedClock(60, origin=origin)  # a worker started later
    assert abs((first.now() - second.now()).total_seconds()) < 0.6  # 60x a few milliseconds
    elapsed_real = (datetime.now(UTC) - origin).total_seconds()
    assert abs((second.now() - origin).total_seconds() - 60 * elapsed_real) < 0.6


def test_without_an_origin_a_later_clock_runs_behind():
    first = AcceleratedClock(60)
    time.sleep(0.3)
    second = AcceleratedClock(60)
    assert (first.now() - second.now()).total_seconds() > 0.3 * 59 - 1  # why workers need the origin
