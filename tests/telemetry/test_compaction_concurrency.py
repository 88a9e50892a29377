"""On PostgreSQL, compaction racing other writers: a second compactor skips a busy device, a segment
ingested mid-compaction is neither lost nor merged twice, and retention deleting the trail while it
is merged leaves nothing behind."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from custodes.actor import Actor
from custodes.bootstrap import bootstrap
from custodes.clock import FrozenClock
from custodes.config import Settings
from custodes.retention import deletion
from custodes.retention.policy import DataClass
from custodes.telemetry import compaction, trail
from custodes.telemetry.models import TrailSegment

from .test_compaction import _cols, _ms

ACTOR = Actor.system("test")
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
HOUR = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)  # settled at 12:00


def _container(pg_url, tmp_path):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE trail_segments RESTART IDENTITY"))
    engine.dispose()
    return bootstrap(Settings(home=tmp_path / "home", database_url=pg_url), FrozenClock(NOW))


def _append(c, subject, device, seq, at, n=10):
    with c.uow(ACTOR) as uow:
        trail.append(uow.session, subject_id=subject, device_id=device, batch_seq=seq,
                     cols=_cols(np.random.default_rng(seq), _ms(at), n))
        uow.commit()


def _fix_ids(c, subject):
    with c.uow(ACTOR) as uow:
        return Counter(p.fix_id for p in trail.read(uow.session, subject, HOUR - timedelta(days=1), NOW))


class Paused:
    """A compaction of one device, stopped between its locking read and its writes until released."""

    def __init__(self, c, device):
        self.locked, self.release, self.result = threading.Event(), threading.Event(), None
        self.thread = threading.Thread(target=self._run, args=(c, device))
        self.thread.start()
        assert self.locked.wait(10), "the compaction never reached its writes"

    def _hold(self):
        self.locked.set()
        assert self.release.wait(20)

    def _run(self, c, device):
        with c.uow(ACTOR) as uow:
            self.result = compaction.compact_device(uow.session, device, NOW, before_write=self._hold)
            uow.commit()

    def finish(self):
        self.release.set()
        self.thread.join(20)
        assert not self.thread.is_alive()
        return self.result


def test_a_second_compactor_skips_a_device_that_is_being_compacted(pg_url, tmp_path):
    c = _container(pg_url, tmp_path)
    subject, device = uuid.uuid4(), uuid.uuid4()
    for k in range(6):
        _append(c, subject, device, k, HOUR + timedelta(minutes=5 * k))
    first = Paused(c, device)
    second: list = []
    t = threading.Thread(target=lambda: second.append(compaction.run(c, devices=[device])))
    t.start()
    t.join(5)  # without the device lock it would wait on the first one's row locks, then find nothing
    assert not t.is_alive() and second[0].skipped == 1 and second[0].groups == 0
    assert first.finish().segments_in == 6
    assert _fix_ids(c, subject) == Counter({f"{device}/{k}/{i}": 1 for k in range(6) for i in range(10)})
    c.close()


def test_a_segment_ingested_during_compaction_is_neither_lost_nor_duplicated(pg_url, tmp_path):
    c = _container(pg_url, tmp_path)
    subject, device = uuid.uuid4(), uuid.uuid4()
    for k in range(5):
        _append(c, subject, device, k, HOUR + timedelta(minutes=5 * k))
    paused = Paused(c, device)
    _append(c, subject, device, 77, HOUR + timedelta(minutes=40))  # committed while the merge is under way
    assert paused.finish().segments_in == 5
    want = Counter({f"{device}/{k}/{i}": 1 for k in (0, 1, 2, 3, 4, 77) for i in range(10)})
    assert _fix_ids(c, subject) == want
    assert compaction.run(c).segments_in == 2  # the merged hour and the newcomer, next pass
    assert _fix_ids(c, subject) == want

    # and many at once: an inserter racing repeated passes over the same hours
    stop, seqs = threading.Event(), iter(range(1000, 1080))

    def insert():
        for seq in seqs:
            _append(c, subject, device, seq, HOUR + timedelta(minutes=seq % 120))
        stop.set()

    t = threading.Thread(target=insert)
    t.start()
    while not stop.is_set():
        compaction.run(c)
    t.join()
    compaction.run(c)
    want.update({f"{device}/{s}/{i}": 1 for s in range(1000, 1080) for i in range(10)})
    assert _fix_ids(c, subject) == want
    with c.session_factory() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TrailSegment)) == 2  # 09:00 and 10:00
    c.close()


def test_retention_deleting_a_trail_while_it_is_merged_leaves_nothing(pg_url, tmp_path):
    c = _container(pg_url, tmp_path)
    subject, device = uuid.uuid4(), uuid.uuid4()
    for k in range(4):
        _append(c, subject, device, k, HOUR + timedelta(minutes=5 * k))
    paused = Paused(c, device)
    removed: list[int] = []

    def delete_all():
        with c.uow(ACTOR) as uow:
            while n := deletion.delete_batch(uow.session, DataClass.TRAIL, subject, limit=100, now=NOW):
                removed.append(n)
            uow.commit()

    t = threading.Thread(target=delete_all)
    t.start()
    t.join(1.0)
    assert t.is_alive()  # waiting on the rows the compaction holds
    paused.finish()
    t.join(20)
    assert not t.is_alive() and sum(removed) == 40
    assert _fix_ids(c, subject) == Counter()
    c.close()
