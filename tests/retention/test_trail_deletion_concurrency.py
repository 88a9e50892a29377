"""On PostgreSQL, deleting one subject's six-year trail (3,153,600 one-a-minute fixes, as the issue asks)
does not hold up ingestion: uploads and trail inserts by other devices carry on while the deletion
runs, and no lock on the trail table itself is ever taken beyond the row-level one every insert takes.

The trail is generated server-side (INSERT ... SELECT over generate_series) as real packed segments:
one hour of fixes each, exactly what `telemetry.segment.pack` writes, so that the whole test stays
well under a minute; one generated segment is unpacked and checked to prove the bytes are real.
"""

from __future__ import annotations

import struct
import threading
import time
import uuid
from datetime import timedelta

import numpy as np
import sqlalchemy as sa

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import bootstrap
from custodes.clock import SystemClock
from custodes.config import RETENTION_GRACE_DAYS, Settings
from custodes.lab.population import enrol
from custodes.lab.retention_bench import IngestLoad
from custodes.retention import scheduled
from custodes.retention.policy import DataClass
from custodes.telemetry import segment
from custodes.telemetry.models import TrailSegment
from custodes.telemetry.schemas import FixColumns

YEARS = 6
PER_SEGMENT = 60  # one segment an hour
SEGMENTS = YEARS * 365 * 24
FIXES = SEGMENTS * PER_SEGMENT  # 3,153,600
# Locks on the trail table that would stop (or be stopped by) the pipeline's inserts.
BLOCKING = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


def _empty(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(sa.text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = "
                                      "current_schema() AND tablename <> 'alembic_version'")).all()
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _hour_of_fixes() -> tuple[bytes, bytes]:
    """A packed segment of 60 fixes a minute apart, split around its first-time field: every hour's
    segment is the same bytes but for that field (times are stored as deltas from it)."""
    n = PER_SEGMENT
    rng = np.random.default_rng(7)
    cols = FixColumns(index=np.arange(n, dtype=np.int32), t_ms=np.arange(n, dtype=np.int64) * 60_000,
                      lat=51.5 + rng.normal(0, 1e-3, n), lon=-0.12 + rng.normal(0, 1e-3, n),
                      accuracy_m=np.full(n, 8.0, np.float32), source=np.zeros(n, np.uint8),
                      speed_mps=np.full(n, np.nan, np.float32))
    blob = segment.pack(cols)
    assert struct.unpack_from("<q", blob, 5) == (0,)  # format (1 byte), count (4), then the first time (8)
    return blob[:5], blob[13:]


def generate_trail(engine: sa.Engine, subject_id: uuid.UUID, device_id: uuid.UUID, start_ms: int) -> None:
    head, tail = _hour_of_fixes()
    # The first time as 8 little-endian bytes: the hex of the big-endian value, read two digits at a time backwards.
    le = " || ".join(f"substr(h, {i}, 2)" for i in range(15, 0, -2))
    with engine.begin() as conn:
        conn.execute(sa.text(f"""
            INSERT INTO trail_segments (subject_id, device_id, batch_seq, t_start, t_end, n, data)
            SELECT :sid, :did, g, to_timestamp(t0 / 1000.0), to_timestamp((t0 + :last_ms) / 1000.0), :n,
                   :head || decode({le}, 'hex') || :tail
            FROM (SELECT g, CAST(:start_ms AS bigint) + CAST(g AS bigint) * :hour_ms AS t0,
                         lpad(to_hex(CAST(:start_ms AS bigint) + CAST(g AS bigint) * :hour_ms), 16, '0') AS h
                  FROM generate_series(0, :segments - 1) AS g) AS s"""),
            {"sid": subject_id, "did": device_id, "n": PER_SEGMENT, "head": head, "tail": tail,
             "start_ms": start_ms, "hour_ms": PER_SEGMENT * 60_000, "last_ms": (PER_SEGMENT - 1) * 60_000,
             "segments": SEGMENTS})
        conn.execute(sa.text("ANALYZE trail_segments"))


class LockWatch(threading.Thread):
    """Polls pg_locks for any lock on the trail table stronger than the row-level one inserts take."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url)
        self.seen: list[str] = []
        self.polls = 0
        self.halt = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.halt.is_set():
                self.seen += conn.scalars(sa.text(
                    "SELECT mode FROM pg_locks WHERE relation = 'trail_segments'::regclass AND mode = ANY(:modes)"),
                    {"modes": list(BLOCKING)}).all()
                conn.rollback()
                self.polls += 1
                self.halt.wait(0.02)
        self.engine.dispose()


def test_deleting_a_six_year_trail_does_not_block_concurrent_ingestion(pg_url, tmp_path):
    _empty(pg_url)
    c = bootstrap(Settings(home=tmp_path / "home", database_url=pg_url,
                           retention_grace_days={**RETENTION_GRACE_DAYS, "trail": 0}), SystemClock())
    try:
        now = c.clock.now()
        with c.uow(Actor.system("test")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="retention agency", kind="home_office"))
            uow.commit()
        start = (now - timedelta(minutes=FIXES + 60 * 24)).replace(second=0, microsecond=0)
        target = enrol(c, agency.id, home=(51.5, -0.12), since=start, until=now - timedelta(days=1), curfew=None)
        others = [enrol(c, agency.id, home=(51.51, -0.12 + i * 1e-3), since=now - timedelta(days=1),
                        until=now + timedelta(days=90), curfew=None) for i in range(4)]
        generate_trail(c.engine, target.subject_id, target.device_id, int(start.timestamp() * 1000))
        with c.engine.connect() as conn:  # the generated rows are real segments, an hour apart
            last = conn.execute(sa.select(TrailSegment).where(TrailSegment.batch_seq == SEGMENTS - 1)).one()
        fixes = segment.unpack(last.data)
        assert len(fixes.t_ms) == PER_SEGMENT and int(fixes.t_ms[0]) == int(last.t_start.timestamp() * 1000)
        assert np.all(np.diff(fixes.t_ms) == 60_000) and abs(float(fixes.lat[0]) - 51.5) < 0.01
        (due,) = [d for d in scheduled.due_now(c) if d.data_class is DataClass.TRAIL]
        assert due.records == FIXES

        load = IngestLoad(c, others, batches_per_s=40)
        locks = LockWatch(pg_url)
        load.start()
        locks.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        _, deleted = scheduled.delete_class(c, due, policy=scheduled.policy_of(c), run_id=uuid.uuid4())
        t1 = time.monotonic()
        time.sleep(0.5)
        load.stop()
        locks.halt.set()
        locks.join()
        print(f"deleted {deleted:,} fixes in {t1 - t0:.2f} s; {len(load.ingest)} uploads, "
              f"{locks.polls} lock polls")  # shown with pytest -s
        assert deleted == FIXES and not load.errors
        assert locks.polls >= 10 and locks.seen == [], f"table locks on trail_segments: {sorted(set(locks.seen))}"
        during = [lat for at, lat in load.ingest if t0 <= at <= t1]
        assert len(during) >= 5, f"only {len(during)} uploads were stored during a {t1 - t0:.2f} s deletion"
        # Latency on a shared machine is noisy (single uploads can wait seconds for a CPU); the median is not.
        assert sorted(during)[len(during) // 2] < 0.5
        # Trail rows were appended while the deletion ran, well before it ended: the table was never
        # held (a deletion holding it would let the first insert finish only as the deletion ends).
        trail_inserts = [at for at, _, n in load.pipeline if t0 <= at <= t1 and n]
        assert trail_inserts and min(trail_inserts) < t1 - (t1 - t0) / 4, \
            f"trail inserts finished at {[round(t - t0, 2) for t in trail_inserts]} s into a {t1 - t0:.2f} s deletion"
        with c.engine.connect() as conn:
            left = conn.scalar(sa.select(sa.func.count()).select_from(TrailSegment)
                               .where(TrailSegment.subject_id == target.subject_id))
            others_fixes = conn.scalar(sa.select(sa.func.sum(TrailSegment.n))
                                       .where(TrailSegment.subject_id.in_([p.subject_id for p in others])))
        assert left == 0 and others_fixes > 0
    finally:
        c.close()
