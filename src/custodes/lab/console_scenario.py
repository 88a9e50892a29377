"""A console scenario for browser tests and screenshots: two agencies, officers, and a subject with an
order, conditions, a device and a week of fixes (about 10,000) that went through the real ingest and
pipeline, so the trail, the monitor state and the zone alert are what production would hold.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.bootstrap import Container
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate
from custodes.lab.device_client import encode, fix, status
from custodes.orders import service as orders
from custodes.orders.models import ConditionCreate, OrderCreate
from custodes.subjects import service as subjects
from custodes.subjects.models import SubjectCreate
from custodes.telemetry import service as telemetry
from custodes.telemetry.pipeline import Pipeline

PASSWORD = "console-password-2027"
HOME = (51.5000, -0.1200)
ZONE_B = (51.5000, -0.0950)  # about 1.7 km east of home
BARCODE = "5012345678901"
SPARE_BARCODE = "5012345999001"
OFFICERS = {"casey": ("north", Role.CASEWORKER), "riley": ("north", Role.REVIEWER),
            "sam": ("south", Role.CASEWORKER), "audrey": ("north", Role.AUDITOR)}


@dataclass(frozen=True)
class Scenario:
    agencies: dict[str, uuid.UUID]
    subject_id: uuid.UUID
    quiet_subject_id: uuid.UUID
    other_agency_subject_id: uuid.UUID
    device_id: uuid.UUID
    spare_device_id: uuid.UUID
    fixes: int
    trail_from: datetime
    trail_to: datetime


def _caseworker(agency_id: uuid.UUID) -> Actor:
    return Actor(kind="user", id=str(uuid.uuid4()), name="scenario", agency_id=agency_id, role=Role.CASEWORKER)


def _person(uow, name: str, since: datetime) -> uuid.UUID:
    s = subjects.create(uow=uow, data=SubjectCreate(full_name=name, date_of_birth="1990-05-01", nationality="PL",
                                                    preferred_language="pl", time_zone="Europe/London"))
    uow.session.flush()
    o = orders.create(uow=uow, subject_id=s.id, data=OrderCreate(
        legal_basis="Immigration Act 2016, Schedule 10", starts_at=since, ends_at=since + timedelta(days=365),
        status="active", less_intrusive_options=[{"option": "weekly reporting", "reason_rejected": "absconded"}],
        necessity={"necessity": "absconded twice while on weekly reporting",
                   "proportionality": "night curfew and one exclusion zone only",
                   "vulnerability_and_health": "screened at enrolment: nothing found"}))
    uow.session.flush()
    for spec in ({"kind": "zone", "name": "Home", "zone_type": "inclusion",
                  "circle": {"lat": HOME[0], "lon": HOME[1], "radius_m": 100}},
                 {"kind": "zone", "name": "Zone B", "zone_type": "exclusion",
                  "circle": {"lat": ZONE_B[0], "lon": ZONE_B[1], "radius_m": 300}},
                 {"kind": "curfew", "start_local": "2027-01-01T19:00:00", "rrule": "FREQ=DAILY",
                  "duration_minutes": 720, "zone_name": "Home"},
                 {"kind": "check_in_policy", "prompts_per_day": 4, "waking_start": "08:00", "waking_end": "21:00"}):
        orders.add_condition(uow=uow, order_id=o.id, data=ConditionCreate(spec=spec))
        uow.session.flush()
    return s.id


def _week(now: datetime, days: int, step_s: int) -> list[tuple[datetime, float, float, float]]:
    """Home at night, a wander by day, and one afternoon visit into Zone B two days ago."""
    rng = np.random.default_rng(7)
    start = now - timedelta(days=days)
    out = []
    n = days * 86400 // step_s
    for i in range(n):
        at = start + timedelta(seconds=i * step_s)
        hour = at.hour + at.minute / 60
        lat, lon = HOME
        if 9 <= hour < 17:  # a daytime loop of about 1 km
            phase = (hour - 9) / 8 * 2 * math.pi
            lat, lon = lat + 0.006 * math.sin(phase), lon + 0.008 * (1 - math.cos(phase)) / 2
        if at.date() == (now - timedelta(days=2)).date() and 14 <= hour < 15:
            lat, lon = ZONE_B
        acc = float(rng.choice([5, 8, 12, 25, 60], p=[.4, .3, .15, .1, .05]))
        jitter = acc / 111_000 * 0.5
        out.append((at, lat + rng.normal(0, jitter), lon + rng.normal(0, jitter), acc))
    return out


def seed(container: Container, *, days: int = 7, step_s: int = 60) -> Scenario:
    now = container.clock.now()
    since = now - timedelta(days=30)
    with container.uow(Actor.system("scenario")) as uow:
        agencies = {k: access.create_agency(uow=uow, data=AgencyCreate(name=f"{k.title()} Home Office",
                                                                       kind="home_office"))
                    for k in ("north", "south")}
        for name, (agency, role) in OFFICERS.items():
            access.create_user(uow=uow, data=UserCreate(username=name, password=PASSWORD, role=role),
                               agency_id=agencies[agency].id)
        uow.commit()
    ids = {k: a.id for k, a in agencies.items()}
    with container.uow(_caseworker(ids["north"])) as uow:
        subject_id = _person(uow, "Jan Kowalski", since)
        quiet_id = _person(uow, "Maria Nowak", since)
        device, _ = devices.register(uow=uow, data=DeviceCreate(kind="ankle_tag", serial="TAG-1001", barcode=BARCODE),
                                     device_key=container.device_key)
        spare, _ = devices.register(uow=uow, data=DeviceCreate(kind="smartwatch", serial="WATCH-2001",
                                                               barcode=SPARE_BARCODE), device_key=container.device_key)
        uow.session.flush()
        devices.assign(uow=uow, device_id=device.id, data=AssignmentCreate(subject_id=subject_id, starts_at=since))
        uow.commit()
    with container.uow(_caseworker(ids["south"])) as uow:
        other_id = _person(uow, "Piotr Zielinski", since)
        uow.commit()
    points = _week(now, days, step_s)
    device_actor = Actor(kind="device", id=str(device.id), name="TAG-1001")
    per_batch = 6 * 3600 // step_s  # one upload every six hours
    for seq, lo in enumerate(range(0, len(points), per_batch), start=1):
        chunk = points[lo:lo + per_batch]
        items = [fix(at, la, lo_, acc) for at, la, lo_, acc in chunk]
        items.append(status(chunk[-1][0], max(20.0, 95.0 - seq * 2.5)))
        telemetry.ingest(container, device_id=device.id, body=encode(seq, items), ndjson=False, channel="http",
                         signature="scenario", actor=device_actor)
    pipeline = Pipeline(container)
    while pipeline.run_once().batches:
        pass
    return Scenario(agencies=ids, subject_id=subject_id, quiet_subject_id=quiet_id, other_agency_subject_id=other_id,
                    device_id=device.id, spare_device_id=spare.id, fixes=len(points), trail_from=points[0][0],
                    trail_to=now)
