"""Monitored people for tests, the ingest benchmark and demos: subject, order, zones, curfew, device.

Everything goes through the domain services in one unit of work per person, exactly as the API
would do it, so the pipeline sees the same rows it sees in production.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from custodes.actor import Actor, Role
from custodes.bootstrap import Container
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate
from custodes.lab.device_client import DeviceClient
from custodes.orders import service as orders
from custodes.orders.models import ConditionCreate, OrderCreate
from custodes.subjects import service as subjects
from custodes.subjects.models import SubjectCreate


@dataclass(frozen=True)
class Monitored:
    subject_id: uuid.UUID
    device_id: uuid.UUID
    secret: str
    home: tuple[float, float]

    @property
    def client(self) -> DeviceClient:
        return DeviceClient(self.device_id, self.secret)


def caseworker(agency_id: uuid.UUID) -> Actor:
    return Actor(kind="user", id=str(uuid.uuid4()), name="population", agency_id=agency_id, role=Role.CASEWORKER)


def enrol(container: Container, agency_id: uuid.UUID, **person) -> Monitored:
    """One person (the keywords of `enrol_in`) in a unit of work of its own."""
    with container.uow(caseworker(agency_id)) as uow:
        monitored = enrol_in(uow, container, **person)
        uow.commit()
        return monitored


def enrol_many(container: Container, agency_id: uuid.UUID, people: list[dict], *, chunk: int = 200,
               on_chunk=None) -> list[Monitored]:
    """Many people (each a dict of `enrol_in`'s keywords), `chunk` to a unit of work: the same rows and
    audit entries as `enrol`, in far fewer commits, for populations of thousands."""
    out: list[Monitored] = []
    for i in range(0, len(people), chunk):
        with container.uow(caseworker(agency_id)) as uow:
            part = [enrol_in(uow, container, **kw) for kw in people[i:i + chunk]]
            uow.commit()
        out += part
        if on_chunk is not None:
            on_chunk(len(part))
    return out


def enrol_in(uow, container: Container, *, home: tuple[float, float], since: datetime, until: datetime,
             home_radius_m: float = 100.0, exclusions: list[dict] = (),
             curfew: tuple[str, int] | None = ("2027-01-01T19:00:00", 12 * 60),
             time_zone: str = "Europe/London") -> Monitored:
    """One person, inside the caller's unit of work (which commits): an active order from `since`, a
    home circle, exclusion zones (GeoJSON geometries or `{"circle": {...}}`), an optional nightly
    curfew at home (local start, minutes), and a device assigned from `since`."""
    tag = secrets.token_hex(5)
    s = subjects.create(uow=uow, data=SubjectCreate(
        full_name=f"Person {tag}", date_of_birth="1990-01-01", nationality="GB", preferred_language="en",
        time_zone=time_zone))
    uow.session.flush()
    o = orders.create(uow=uow, subject_id=s.id, data=OrderCreate(
        legal_basis="Immigration Act 2016, Schedule 10", starts_at=since, ends_at=until,
        status="active", less_intrusive_options=[{"option": "reporting", "reason_rejected": "absconded"}],
        necessity={"necessity": "synthetic population for benchmarks",
                   "proportionality": "synthetic population for benchmarks",
                   "vulnerability_and_health": "synthetic population: none recorded"}))
    uow.session.flush()
    specs: list[dict] = [{"kind": "zone", "name": "home", "zone_type": "inclusion",
                          "circle": {"lat": home[0], "lon": home[1], "radius_m": home_radius_m}}]
    specs += [{"kind": "zone", "name": f"exclusion {i}", "zone_type": "exclusion",
               **({"geometry": z} if "type" in z else z)} for i, z in enumerate(exclusions)]
    if curfew:
        specs.append({"kind": "curfew", "start_local": curfew[0], "rrule": "FREQ=DAILY",
                      "duration_minutes": curfew[1], "zone_name": "home"})
    for spec in specs:
        orders.add_condition(uow=uow, order_id=o.id, data=ConditionCreate(spec=spec))
        uow.session.flush()
    d, secret = devices.register(uow=uow, data=DeviceCreate(kind="ankle_tag", serial=f"TAG-{tag}",
                                                            barcode=f"B{tag}"), device_key=container.device_key)
    uow.session.flush()
    devices.assign(uow=uow, device_id=d.id, data=AssignmentCreate(subject_id=s.id, starts_at=since))
    return Monitored(s.id, d.id, secret, home)


def register_tags(container: Container, agency_id: uuid.UUID, n: int, *, chunk: int = 500) -> list[DeviceClient]:
    """`n` tags registered (in stock, not yet worn), `chunk` to a unit of work: devices that can sign
    and be heard, without the cost of a subject and an order each (a reconnect storm's population)."""
    out: list[DeviceClient] = []
    for i in range(0, n, chunk):
        with container.uow(caseworker(agency_id)) as uow:
            for _ in range(min(chunk, n - i)):
                tag = secrets.token_hex(6)
                d, secret = devices.register(uow=uow, data=DeviceCreate(kind="ankle_tag", serial=f"TAG-{tag}",
                                                                        barcode=f"B{tag}"), device_key=container.device_key)
                out.append(DeviceClient(d.id, secret))
            uow.commit()
    return out
