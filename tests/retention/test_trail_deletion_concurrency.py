"""On PostgreSQL, deleting one subject's large trail (200,000 fixes) does not hold up ingestion:
uploads and trail inserts by other devices carry on, quickly, while the deletion runs."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from custodes.access import service as access
from custodes.access.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.bootstrap import bootstrap
from custodes.clock import SystemClock
from custodes.config import RETENTION_GRACE_DAYS, Settings
from custodes.lab.population import enrol
from custodes.lab.retention_bench import IngestLoad, bulk_trail
from custodes.retention import scheduled
from custodes.retention.policy import DataClass
from custodes.telemetry.models import TrailSegment

FIXES = 200_000


def _empty(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(sa.text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = "
                                      "current_schema() AND tablename <> 'alembic_version'")).all()
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def test_deleting_a_large_trail_does_not_block_concurrent_ingestion(pg_url, tmp_path):
    _empty(pg_url)
    c = bootstrap(Settings(home=tmp_path / "home", database_url=pg_url,
                           retention_grace_days={**RETENTION_GRACE_DAYS, "trail": 0}), SystemClock())
    try:
        now = c.clock.now()
        with c.uow(Actor.system("test")) as uow:
            agency = access.create_agency(uow=uow, data=AgencyCreate(name="retention agency", kind="home_office"))
            uow.commit()
        start = now - timedelta(minutes=FIXES + 60 * 24)
        target = enrol(c, agency.id, home=(51.5, -0.12), since=start, until=now - timedelta(days=1), curfew=None)
        others = [enrol(c, agency.id, home=(51.51, -0.12 + i * 1e-3), since=now - timedelta(days=1),
                        until=now + timedelta(days=90), curfew=None) for i in range(4)]
        bulk_trail(c, target.subject_id, target.device_id, start=start, fixes=FIXES, per_segment=60)
        (due,) = [d for d in scheduled.due_now(c) if d.data_class is DataClass.TRAIL]
        assert due.records == FIXES

        load = IngestLoad(c, others, batches_per_s=40)
        load.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        _, deleted = scheduled.delete_class(c, due, policy=scheduled.policy_of(c), run_id=uuid.uuid4(),
                                            batch_size=50)
        t1 = time.monotonic()
        time.sleep(0.5)
        load.stop()
        assert deleted == FIXES and not load.errors
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
