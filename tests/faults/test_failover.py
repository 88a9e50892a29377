"""Fault: the PostgreSQL primary is lost under load, with a synchronous streaming standby on this
machine that is then promoted (`pg_ctl promote`). The API and the worker, given a multi-host URL with
`target_session_attrs=read-write`, find the new primary by themselves, and no batch answered 202 is
lost: synchronous commit means a 202 was on the standby before it was sent."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from .conftest import empty, need, new_database
from .instances import Missing, PgCluster, temp_dir
from .load import Load, assert_nothing_lost_or_twice, population, wait_processed

DEVICES, BATCHES = 6, 6


@pytest.fixture(scope="module")
def pair():
    root = temp_dir("custodes-faults-ha-")
    clusters: list[PgCluster] = []
    try:
        primary = PgCluster(root, "primary").init(synchronous_commit="on")
        clusters.append(primary)
        primary.start()
        new_database(primary)
        # The standby's own copy of the settings must not wait for a standby once it is the primary.
        standby = PgCluster(root, "standby").standby_of(primary)
        standby.configure(synchronous_standby_names="''")
        clusters.append(standby)
        standby.start()
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        primary.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while primary.sql("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'") == []:
            if time.monotonic() > deadline:
                raise TimeoutError("the standby never became synchronous")
            time.sleep(0.1)
    except (Missing, subprocess.CalledProcessError, TimeoutError) as exc:
        for c in clusters:
            c.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
        need("a primary and standby could not be made", getattr(exc, "stderr", None) or exc)
    try:
        yield primary, standby
    finally:
        for c in clusters:
            c.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(pair):
    primary, standby = pair
    empty(primary.url())
    return (f"postgresql+psycopg://postgres@/custodes?host=127.0.0.1:{primary.port}&host=127.0.0.1:{standby.port}"
            "&target_session_attrs=read-write")


def test_primary_lost_standby_promoted_nothing_accepted_is_lost(pair, container, api, workers, agencies):
    primary, standby = pair
    devices = population(container, agencies["home_office"], DEVICES)
    workers.start("ha-worker")
    load = Load(api.url, devices, BATCHES, pause_s=0.3, deadline_s=60).start(container.clock)
    time.sleep(1.0)
    before = len(load.accepted)
    primary.stop("immediate")  # the primary's machine is gone: no shutdown checkpoint, no goodbye
    time.sleep(1.0)
    standby.promote()
    load.join()
    state = wait_processed(container, DEVICES * BATCHES, timeout=60)
    print(f"failover: {before} batches 202 before the primary was lost, {len(load.accepted)} in all; "
          f"{load.statuses.count(503)} answers 503, {load.statuses.count(0)} without answer; "
          f"{state['trail_fixes']} fixes in the trail, read from the promoted standby")
    assert standby.sql("SELECT pg_is_in_recovery()")[0][0] is False
    assert 0 < before < DEVICES * BATCHES, "the primary was lost outside the load"
    assert 500 not in load.statuses and {p["status"] for p in load.problems} <= {503}, load.problems[:3]
    assert_nothing_lost_or_twice(state, load.accepted, devices, BATCHES)
