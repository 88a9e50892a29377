"""A console-sized population for `custodes bench console`: 1,000 subjects with orders, conditions,
devices, alerts and review items, and about 1,000,000 fixes stored as packed trail segments.

Seeding writes rows in bulk (no unit of work per row, no audit entries: this is a benchmark
database, not a record of anything), so that a million fixes take seconds, not minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
from sqlalchemy import insert

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.alerts.models import Alert
from custodes.bootstrap import Container
from custodes.checkins.face_store import face_keys
from custodes.devices.models import Assignment, Device
from custodes.lab import console_ops_scenario
from custodes.orders.models import Condition, ConditionCreate, Order
from custodes.subjects.models import Subject
from custodes.telemetry import segment
from custodes.telemetry.models import MonitorState, TrailSegment
from custodes.telemetry.schemas import FixColumns

PASSWORD = "bench-console-password"
SEGMENT_HOURS = 6  # one upload every six hours: one packed segment each
FIRST = ("Jan", "Maria", "Piotr", "Ana", "Omar", "Lena", "Tomas", "Aisha", "Ivan", "Sara", "Kofi", "Mei")
LAST = ("Kowalski", "Nowak", "Silva", "Haddad", "Novak", "Okafor", "Petrov", "Chen", "Murphy", "Rossi")
HOME = (51.50, -0.12)


@dataclass(frozen=True)
class Population:
    subject_ids: list[uuid.UUID]
    device_ids: list[uuid.UUID]
    trail_subject_id: uuid.UUID
    review_item_ids: list[uuid.UUID]
    barcodes: list[str]
    fixes: int
    days: int


def _cols(rng, t0_ms: int, n: int, step_ms: int, home: tuple[float, float]) -> FixColumns:
    walk = rng.normal(0, 0.0004, (n, 2)).cumsum(axis=0) * 0.2
    return FixColumns(index=np.arange(n, dtype=np.int32), t_ms=t0_ms + np.arange(n, dtype=np.int64) * step_ms,
                      lat=home[0] + walk[:, 0], lon=home[1] + walk[:, 1],
                      accuracy_m=rng.choice([5, 8, 12, 25, 60], n).astype(np.float32),
                      source=np.zeros(n, np.uint8), speed_mps=np.full(n, np.nan, np.float32))


def _conditions(home: tuple[float, float]) -> list[dict]:
    specs = ({"kind": "zone", "name": "Home", "zone_type": "inclusion",
              "circle": {"lat": home[0], "lon": home[1], "radius_m": 100}},
             {"kind": "zone", "name": "Zone B", "zone_type": "exclusion",
              "circle": {"lat": home[0], "lon": home[1] + 0.025, "radius_m": 300}},
             {"kind": "curfew", "start_local": "2027-01-01T19:00:00", "rrule": "FREQ=DAILY",
              "duration_minutes": 720, "zone_name": "Home"})
    return [ConditionCreate(spec=s).spec.model_dump(mode="json") for s in specs]


def seed(container: Container, *, subjects: int = 1000, fixes: int = 1_000_000, trail_fixes: int = 10_080,
         days: int = 7, progress: Callable[[str, int], None] = lambda what, n: None) -> Population:
    now = container.clock.now()
    rng = np.random.default_rng(1)
    with container.uow(Actor.system("bench")) as uow:
        north = access.create_agency(uow=uow, data=AgencyCreate(name="North Home Office", kind="home_office"))
        south = access.create_agency(uow=uow, data=AgencyCreate(name="South Home Office", kind="home_office"))
        for name, role in (("casey", Role.CASEWORKER), ("riley", Role.REVIEWER)):
            access.create_user(uow=uow, data=UserCreate(username=name, password=PASSWORD, role=role),
                               agency_id=north.id)
        uow.commit()
    rows: dict[type, list[dict]] = {k: [] for k in (Subject, Order, Condition, Device, Assignment, Alert,
                                                   MonitorState)}
    subject_ids, device_ids, barcodes = [], [], []
    for i in range(subjects):
        sid, oid, did = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        agency = north.id if i % 20 else south.id  # one in twenty belongs to another agency
        home = (HOME[0] + rng.uniform(-0.1, 0.1), HOME[1] + rng.uniform(-0.15, 0.15))
        start = now - timedelta(days=int(rng.integers(10, 200)))
        rows[Subject].append(dict(id=sid, agency_id=agency, full_name=f"{FIRST[i % 12]} {LAST[i % 10]} {i:04d}",
                                  date_of_birth=date(1980 + i % 25, 1 + i % 12, 1 + i % 27), nationality="GB",
                                  preferred_language="en", time_zone="Europe/London", created_at=start))
        rows[Order].append(dict(id=oid, subject_id=sid, legal_basis="Immigration Act 2016, Schedule 10",
                                starts_at=start, ends_at=start + timedelta(days=365), review_every_days=90,
                                next_review_due=start + timedelta(days=90), vulnerability_flags=[], health_flags=[],
                                less_intrusive_options=[{"option": "weekly reporting", "reason_rejected": "absconded"}],
                                status="active", created_at=start))
        for spec in _conditions(home):
            rows[Condition].append(dict(id=uuid.uuid4(), order_id=oid, kind=spec["kind"], spec=spec, created_at=start))
        barcode = f"77{i:08d}"
        rows[Device].append(dict(id=did, agency_id=agency, kind="ankle_tag", serial=f"BT-{i:05d}", barcode=barcode,
                                 status="issued", created_at=start))
        rows[Assignment].append(dict(id=uuid.uuid4(), device_id=did, subject_id=sid, starts_at=start, ends_at=None,
                                     created_at=start))
        rows[MonitorState].append(dict(subject_id=sid, updated_at=now,
                                       state={"last_fix": {"at": (now - timedelta(minutes=int(i % 90))).isoformat()}}))
        for k in range(3 if i % 5 == 0 else 0):  # a fifth of the caseload has alerts
            fault = k == 2
            rows[Alert].append(dict(id=uuid.uuid4(), dedupe_key=f"bench:{i}:{k}", subject_id=sid,
                                    kind="battery_low" if fault else "exclusion_zone_entry",
                                    category="device_fault" if fault else "breach", severity="medium" if fault else "high",
                                    status="open" if k else "resolved", evidence={"fix_at": now.isoformat()},
                                    occurred_at=now - timedelta(hours=k * 7 + i % 24),
                                    raised_at=now - timedelta(hours=k * 7 + i % 24)))
        subject_ids.append(sid)
        device_ids.append(did)
        barcodes.append(barcode)
    with container.session_factory() as s, s.begin():
        for model, values in rows.items():
            for lo in range(0, len(values), 2000):
                s.execute(insert(model), values[lo:lo + 2000])
            progress(f"seeded {model.__tablename__}", 0)
    stored = _fixes(container, rows[Subject], device_ids, fixes, trail_fixes, days, now, rng, progress)
    # A few face-review items with real photos, on the subject with the long trail.
    ns = SimpleNamespace(subject_id=subject_ids[1], device_id=device_ids[1])
    with container.uow(Actor.system("bench")) as uow:
        items = [console_ops_scenario.review_item(uow, face_keys(container), ns, n, case)
                 for n, case in enumerate(console_ops_scenario.CASES)]
        uow.commit()
    return Population(subject_ids=subject_ids, device_ids=device_ids, trail_subject_id=subject_ids[1],
                      review_item_ids=items, barcodes=barcodes, fixes=stored, days=days)


def _fixes(container, subjects, device_ids, fixes, trail_fixes, days, now, rng, progress) -> int:
    """The trail subject gets `trail_fixes` over `days`; the rest share the remaining fixes evenly."""
    span_ms = days * 86_400_000
    t_begin = int((now - timedelta(days=days)).timestamp() * 1000)
    per_other = max(1, (fixes - trail_fixes) // max(1, len(subjects) - 1))
    seg_ms = SEGMENT_HOURS * 3_600_000
    stored = 0
    batch: list[dict] = []
    with container.session_factory() as s, s.begin():
        for i, (subj, did) in enumerate(zip(subjects, device_ids, strict=True)):
            n = trail_fixes if i == 1 else per_other
            step = span_ms // n
            cols = _cols(rng, t_begin, n, step, (51.5, -0.12))
            for seq, lo in enumerate(range(0, span_ms, seg_ms), start=1):
                part = cols.take(np.nonzero((cols.t_ms >= t_begin + lo) & (cols.t_ms < t_begin + lo + seg_ms))[0])
                if not len(part):
                    continue
                batch.append(dict(subject_id=subj["id"], device_id=did, batch_seq=seq,
                                  t_start=datetime.fromtimestamp(int(part.t_ms[0]) / 1000, now.tzinfo),
                                  t_end=datetime.fromtimestamp(int(part.t_ms[-1]) / 1000, now.tzinfo),
                                  n=len(part), data=segment.pack(part)))
                stored += len(part)
            if len(batch) >= 5000:
                s.execute(insert(TrailSegment), batch)
                batch = []
            progress("seeding fixes", n)
        if batch:
            s.execute(insert(TrailSegment), batch)
    return stored
