"""Fault: PostgreSQL restarts under load. While it is down the API answers 503 problem+json with
Retry-After (never 500); no batch answered 202 is lost; the API and the worker recover by themselves."""

from __future__ import annotations

import time

from .load import Load, assert_nothing_lost_or_twice, population, wait_processed

DEVICES, BATCHES = 8, 6


def test_postgres_restart_loses_no_accepted_batch(pg, container, api, workers, agencies):
    devices = population(container, agencies["home_office"], DEVICES)
    workers.start("pg-restart-worker")
    load = Load(api.url, devices, BATCHES, pause_s=0.3, deadline_s=60).start(container.clock)
    time.sleep(0.8)  # some batches in, then the database goes away mid-load
    pg.stop("fast")
    time.sleep(2.0)
    pg.start()
    load.join()
    state = wait_processed(container, DEVICES * BATCHES, timeout=60)

    print(f"postgres restart: {len(load.accepted)} batches 202, {load.statuses.count(503)} answers 503, "
          f"{load.statuses.count(0)} without answer, {state['trail_fixes']} fixes in the trail")
    assert 500 not in load.statuses and not any(p["status"] not in (503,) for p in load.problems), load.problems[:3]
    assert load.statuses.count(503) > 0, "the outage fell between uploads: nothing measured"
    assert all(p["type"] == "application/problem+json" for p in load.problems)
    assert all(ra.isdigit() for ra in load.retry_after)
    assert_nothing_lost_or_twice(state, load.accepted, devices, BATCHES)
