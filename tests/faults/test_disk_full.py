"""Fault: the database's disk fills. The raw batches live on a small tmpfs (a PostgreSQL tablespace),
which a filler file then fills: uploads are refused with 507 problem+json and Retry-After (never a
500, nothing half-stored), and once space returns the same uploads are accepted and processed."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from custodes.lab.field.platform import Platform

from .instances import temp_dir
from .load import assert_nothing_lost_or_twice, batch, ledger, population, wait_processed

DEVICES, BATCHES, FIXES = 3, 30, 20  # more raw batches than the free pages hold


@pytest.fixture
def small_disk(pg):
    mnt = temp_dir("custodes-faults-disk-")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mnt)], check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        from .conftest import need
        need("a tmpfs for the full-disk test could not be mounted", getattr(exc, "stderr", None) or exc)
    shutil.chown(mnt, "postgres", "postgres")
    (mnt / "ts").mkdir()
    shutil.chown(mnt / "ts", "postgres", "postgres")
    pg.sql(f"CREATE TABLESPACE small LOCATION '{mnt / 'ts'}'")
    pg.sql("ALTER TABLE telemetry_batches SET TABLESPACE small", dbname="custodes")
    try:
        yield mnt
    finally:
        pg.sql("ALTER TABLE telemetry_batches SET TABLESPACE pg_default", dbname="custodes")
        pg.sql("DROP TABLESPACE small")
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        shutil.rmtree(mnt, ignore_errors=True)


def fill(mnt: Path) -> Path:
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):  # to the last byte: a page must not fit
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_full_database_disk_is_a_clear_refusal_then_recovers(pg, small_disk, container, api, workers, agencies):
    devices = population(container, agencies["home_office"], DEVICES)
    t0 = container.clock.now().replace(microsecond=0) - timedelta(hours=3)
    platform = Platform(api.url, "nobody", "nothing")
    accepted, refused = {}, []

    def send(person, seq):
        r = platform.upload(person.client, batch(seq, t0, n=FIXES), container.clock.now())
        if r.status_code == 202:
            accepted[(person.device_id, seq)] = r.json()["accepted"]
        return r

    for person in devices:
        assert send(person, 0).status_code == 202
    filler = fill(small_disk)
    for seq in range(1, BATCHES):
        for person in devices:
            r = send(person, seq)
            if r.status_code != 202:
                refused.append((person, seq, r))
    assert refused, "the full disk refused nothing"
    assert {r.status_code for *_, r in refused} == {507}, [r.text for *_, r in refused][:2]
    assert all(r.headers["content-type"] == "application/problem+json" and r.headers["Retry-After"].isdigit()
               for *_, r in refused)
    stored = ledger(container)["stored"]
    assert not {(p.device_id, q) for p, q, _ in refused} & stored, "a refused batch was half-stored"
    assert stored == set(accepted)
    os.remove(filler)  # space returns: the devices resend what was refused
    for person, seq, _ in refused:
        assert send(person, seq).status_code == 202
    workers.start("disk-worker")
    state = wait_processed(container, DEVICES * BATCHES, timeout=40)
    platform.http.close()
    print(f"disk full: {len(refused)} uploads refused 507 while full, all accepted after; "
          f"{state['trail_fixes']} fixes in the trail")
    assert_nothing_lost_or_twice(state, accepted, devices, BATCHES)
