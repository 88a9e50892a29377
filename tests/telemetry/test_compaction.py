"""Trail compaction: settled hours, then quarter days, become one segment each; every read and deletion of
the trail gives the same result before and after; late data is merged into its settled bucket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from custodes.actor import Actor
from custodes.lab.device_client import encode, fix
from custodes.retention import deletion
from custodes.retention.policy import DataClass
from custodes.telemetry import compaction, trail
from custodes.telemetry.models import TrailSegment
from custodes.telemetry.pipeline import Pipeline
from custodes.telemetry.schemas import FixColumns

from .conftest import HOME

ACTOR = Actor.system("test")


def _cols(rng, t0_ms: int, n: int, step_ms: int = 15_000) -> FixColumns:
    return FixColumns(index=np.arange(n, dtype=np.int32), t_ms=t0_ms + np.arange(n, dtype=np.int64) * step_ms,
                      lat=51.5 + rng.normal(0, 1e-4, n), lon=-0.12 + rng.normal(0, 1.5e-4, n),
                      accuracy_m=rng.uniform(3, 15, n).round(1).astype(np.float32),
                      source=rng.integers(0, 3, n).astype(np.uint8),
                      speed_mps=np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 3, n)).astype(np.float32))


def _ms(at) -> int:
    return int(at.timestamp() * 1000)


def _ingest(container, subject, device, start, batches: int, per: int = 10, seq0: int = 0, rng=None) -> int:
    """Append `batches` 10-fix segments of 150 s each from `start`, as the pipeline does."""
    rng = rng or np.random.default_rng(seq0)
    with container.uow(ACTOR) as uow:
        for k in range(batches):
            trail.append(uow.session, subject_id=subject, device_id=device, batch_seq=seq0 + k,
                         cols=_cols(rng, _ms(start) + k * per * 15_000, per))
        uow.commit()
    return batches * per


def _reads(container, subject, windows):
    with container.uow(ACTOR) as uow:
        got = [trail.read(uow.session, subject, a, b) for a, b in windows]
        cols, seqs = trail.columns_since(uow.session, subject, None)
        since, seqs2 = trail.columns_since(uow.session, subject, windows[1][0])
    flat = [(k, np.asarray(getattr(c, k)).tobytes()) for c in (cols, since) for k in FixColumns.__dataclass_fields__]
    return got, flat, seqs.tolist(), seqs2.tolist()


def _segments(container):
    with container.uow(ACTOR) as uow:
        return uow.session.execute(select(TrailSegment.level, TrailSegment.n).order_by(TrailSegment.t_start)).all()


def test_settled_hours_then_days_become_one_segment_each_and_every_read_stays_the_same(container, clock):
    subject, tag, watch = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = clock.now().replace(hour=0) - timedelta(days=1)  # yesterday 00:00 UTC; now is 12:00
    fixes = _ingest(container, subject, tag, day + timedelta(hours=20), 96)  # 20:00 to 24:00 yesterday
    fixes += _ingest(container, subject, tag, day + timedelta(days=1, hours=9), 48, seq0=96)  # 09:00-11:00 today
    fixes += _ingest(container, subject, watch, day + timedelta(days=1, hours=9, minutes=7), 3)  # a second device
    fixes += _ingest(container, subject, tag, day + timedelta(hours=21), 2, seq0=500)  # late, out of order
    windows = [(day, clock.now()), (day + timedelta(hours=21, minutes=3, seconds=7), day + timedelta(days=1, hours=9, minutes=30)),
               (day + timedelta(hours=23, minutes=59), day + timedelta(days=1, hours=0, minutes=1))]
    before = _reads(container, subject, windows)
    assert len(before[0][0]) == fixes and len(_segments(container)) == 149

    done = compaction.run(container)  # 12:00: yesterday's 18:00-24:00 quarter, today's 09:00 and 10:00 hours
    assert done.fixes == fixes and done.segments_in == 149 and done.skipped == 0
    segs = _segments(container)
    assert [lvl for lvl, _ in segs] == [2, 1, 1, 1]  # the quarter, the tag's 09:00 and 10:00, the watch's 09:00
    assert sum(n for _, n in segs) == fixes
    assert _reads(container, subject, windows) == before
    assert compaction.run(container).groups == 0  # nothing left to do

    clock.advance(timedelta(days=1))  # today's 06:00-12:00 is settled too: its hours become one segment
    compaction.run(container)
    assert [lvl for lvl, _ in _segments(container)] == [2, 2, 2]  # yesterday, today's tag, today's watch
    assert _reads(container, subject, windows) == before


def test_late_data_in_a_compacted_quarter_day_is_merged_into_it(container, clock):
    subject, device = uuid.uuid4(), uuid.uuid4()
    day = clock.now().replace(hour=0) - timedelta(days=2)
    _ingest(container, subject, device, day + timedelta(hours=6), 30)
    compaction.run(container)
    assert _segments(container) == [(2, 300)]
    _ingest(container, subject, device, day + timedelta(hours=7, minutes=30), 4, seq0=900)  # two days late
    windows = [(day, clock.now()), (day + timedelta(hours=6, minutes=5), day + timedelta(hours=7, minutes=35))]
    before = _reads(container, subject, windows)
    assert compaction.run(container).segments_in == 5  # the four late segments and the quarter's
    assert _segments(container) == [(2, 340)]
    assert _reads(container, subject, windows) == before
    fix_ids = [p.fix_id for p in before[0][0]]
    assert f"{device}/900/0" in fix_ids and f"{device}/29/9" in fix_ids  # each fix still names its own batch


def test_a_dry_run_changes_nothing_and_a_lone_segment_is_only_relabelled(container, clock):
    subject, device = uuid.uuid4(), uuid.uuid4()
    _ingest(container, subject, device, clock.now() - timedelta(days=3), 5)
    _ingest(container, subject, device, clock.now() - timedelta(hours=2, minutes=30), 1, seq0=50)
    with container.uow(ACTOR) as uow:
        data = uow.session.scalars(select(TrailSegment.data).order_by(TrailSegment.id)).all()
    dry = compaction.run(container, dry_run=True)
    assert dry.segments_in == 6 and dry.segments_out == 2 and dry.bytes_out < dry.bytes_in
    assert [lvl for lvl, _ in _segments(container)] == [0] * 6
    compaction.run(container)
    with container.uow(ACTOR) as uow:
        lone = uow.session.execute(select(TrailSegment.level, TrailSegment.data)
                                   .where(TrailSegment.batch_seq == 50)).one()
    assert lone == (1, data[-1])  # an hour with one segment: nothing to merge, relabelled only


def test_retention_deletes_a_compacted_trail_whole_and_by_time(container, clock):
    subject, device = uuid.uuid4(), uuid.uuid4()
    day = clock.now().replace(hour=0) - timedelta(days=4)
    fixes = sum(_ingest(container, subject, device, day + timedelta(days=d, hours=8), 24, seq0=100 * d)
                for d in range(3))
    compaction.run(container)
    assert [lvl for lvl, _ in _segments(container)] == [2, 2, 2]
    cut = day + timedelta(days=1, hours=8, minutes=30)
    with container.uow(ACTOR) as uow:
        kept = [p for p in trail.read(uow.session, subject, day, clock.now()) if p.at >= cut]
        assert trail.delete_before(uow.session, cut) == fixes - len(kept)
        uow.commit()
    with container.uow(ACTOR) as uow:
        assert trail.read(uow.session, subject, day, clock.now()) == kept  # the same fixes, the same fix_ids
        assert deletion.count(uow.session, DataClass.TRAIL, subject) == len(kept)
        removed = 0
        while n := deletion.delete_batch(uow.session, DataClass.TRAIL, subject, limit=1, now=clock.now()):
            removed += n
        uow.commit()
    assert removed == len(kept) and _segments(container) == []


def test_trail_api_reads_the_same_before_and_after_compaction(client, clock, container, person, officer):
    headers = officer("caseworker")
    t0 = clock.now() - timedelta(hours=3)
    for seq in range(12):  # twelve 10-fix uploads, one every 15 minutes
        items = [fix(t0 + timedelta(minutes=15 * seq, seconds=20 * i), HOME[0] + i * 1e-5, HOME[1], 3.0 + i)
                 for i in range(10)]
        body = encode(seq, items)
        assert client.post(person.client.path, content=body,
                           headers=person.client.http_headers(body, clock.now())).status_code == 202
    pipeline = Pipeline(container)
    while pipeline.run_once().batches:
        pass
    path = f"/v1/subjects/{person.subject_id}/trail"
    params = [{"from": t0.isoformat(), "to": clock.now().isoformat()},
              {"from": (t0 + timedelta(minutes=50)).isoformat(), "to": (t0 + timedelta(minutes=95)).isoformat()}]

    def read_all():
        return [client.get(path, params={**p, "purpose": "case_management", "purpose_detail": "compaction REF-9",
                                         "format": f}, headers=headers).text for p in params for f in ("geojson", "csv")]

    before = read_all()
    assert compaction.run(container).segments_in == 8  # 09:00-11:00; the 11:00 hour is not settled yet
    assert [lvl for lvl, _ in _segments(container)] == [1, 1, 0, 0, 0, 0]
    assert read_all() == before


def test_pending_devices_are_those_with_a_settled_hour(container, clock):
    a, b = uuid.uuid4(), uuid.uuid4()
    _ingest(container, uuid.uuid4(), a, clock.now() - timedelta(hours=1, minutes=50), 2)
    _ingest(container, uuid.uuid4(), b, clock.now() - timedelta(minutes=10), 2)  # this hour: not settled
    with container.uow(ACTOR) as uow:
        assert compaction.pending_devices(uow.session, clock.now()) == [a]


def test_the_compact_command_says_what_it_would_do_then_does_it(container, clock, settings, monkeypatch):
    from typer.testing import CliRunner

    from custodes.cli.main import app

    subject, device = uuid.uuid4(), uuid.uuid4()
    # The command runs on the system clock: data from two real days ago is settled by then.
    _ingest(container, subject, device, datetime.now(UTC).replace(hour=6) - timedelta(days=2), 6)
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    args = ["telemetry", "compact", "--home", str(settings.home)]
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "would merge 6 segments into 1 (60 fixes" in dry.output
    assert [lvl for lvl, _ in _segments(container)] == [0] * 6
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0 and "merged 6 segments into 1 (60 fixes" in done.output
    assert _segments(container) == [(2, 60)]


def test_a_tick_works_off_more_devices_than_one_pass_takes(container, clock):
    for _ in range(3):
        _ingest(container, uuid.uuid4(), uuid.uuid4(), clock.now() - timedelta(days=2), 3)
    done = compaction.tick(container, limit=1)
    assert done.devices == 3 and done.segments_in == 9
    assert [lvl for lvl, _ in _segments(container)] == [2, 2, 2]
