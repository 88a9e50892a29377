"""Fault: a `custodes worker` is killed with SIGKILL mid-batch while it holds a device's claim (its
cursor row, locked in an open transaction). Another worker skips that device while the claim is held,
takes it over once the kill releases it, and nothing is lost or raised twice."""

from __future__ import annotations

import time

from .load import Load, assert_nothing_lost_or_twice, ledger, population, wait_processed

DEVICES, BATCHES = 6, 5


def test_worker_killed_holding_a_claim_is_taken_over(container, api, workers, agencies):
    devices = population(container, agencies["home_office"], DEVICES)
    # Worker A stops inside its 2nd device turn, after the rules ran and before the commit.
    a = workers.start("kill-a", fault="rules:2:hold")
    load = Load(api.url, devices, BATCHES, pause_s=0.1, deadline_s=40).start(container.clock)
    workers.wait_log("kill-a", "fault injected at rules #2: holding", proc=a)
    b = workers.start("kill-b")
    load.join()
    time.sleep(1.5)
    held = ledger(container)
    # While A holds its claim, B does everything else, and none of the held device's pending batches.
    assert held["pending"] > 0, "worker A's claimed batches were processed while it held the claim"
    workers.sigkill(a)  # the real kill -9: PostgreSQL ends A's transaction and releases the claim
    state = wait_processed(container, DEVICES * BATCHES, timeout=40)
    print(f"worker kill: {held['pending']} batches held by the killed worker, taken over; "
          f"{len(load.accepted)} batches 202, {state['trail_fixes']} fixes in the trail")
    assert b.poll() is None
    assert_nothing_lost_or_twice(state, load.accepted, devices, BATCHES)
