"""`custodes demo`: a small, realistic data set on the embedded SQLite database, then serve it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from custodes.access import service as access
from custodes.access.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.bootstrap import Container, bootstrap
from custodes.config import Settings
from custodes.db import migrate
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate
from custodes.orders import service as orders
from custodes.orders.models import ConditionCreate, OrderCreate
from custodes.subjects import service as subjects
from custodes.subjects.models import ShareCreate, SubjectCreate

PASSWORD = "demo-password-2027"
AGENCIES = [("Home Office Immigration Enforcement", "home_office"), ("Probation Service London", "probation"),
            ("Metropolitan Police", "police"), ("Monitoring Centre", "monitoring_centre")]
USERS = [("casey", 0, Role.CASEWORKER), ("admin", 0, Role.ADMIN), ("pat", 1, Role.PROBATION),
         ("polly", 2, Role.POLICE), ("riley", 3, Role.REVIEWER), ("audrey", 3, Role.AUDITOR)]
SUBJECTS = [
    ("Amara Okafor", date(1991, 4, 12), "NG", "en", 51.5465, -0.1058),
    ("Tomasz Nowak", date(1986, 9, 3), "PL", "pl", 51.4613, -0.1156),
    ("Farid Rahimi", date(1995, 1, 27), "AF", "fa", 51.5362, 0.0766),
]


def seed(container: Container) -> dict[str, str]:
    now = container.clock.now()
    with container.uow(Actor.system("demo")) as uow:
        agencies = [access.create_agency(uow=uow, data=AgencyCreate(name=n, kind=k)) for n, k in AGENCIES]
        for name, idx, role in USERS:
            access.create_user(uow=uow, data=UserCreate(username=name, password=PASSWORD, role=role),
                               agency_id=agencies[idx].id)
        uow.commit()
    caseworker = Actor(kind="user", id=None, name="demo-seed", agency_id=agencies[0].id, role=Role.CASEWORKER)
    secrets: dict[str, str] = {}
    with container.uow(caseworker) as uow:
        for i, (name, dob, nat, lang, lat, lon) in enumerate(SUBJECTS):
            s = subjects.create(uow=uow, data=SubjectCreate(full_name=name, date_of_birth=dob, nationality=nat,
                                                            preferred_language=lang, time_zone="Europe/London"))
            uow.session.flush()
            subjects.share(uow=uow, subject_id=s.id, data=ShareCreate(agency_id=agencies[1].id))
            subjects.share(uow=uow, subject_id=s.id, data=ShareCreate(agency_id=agencies[3].id))
            order = orders.create(uow=uow, subject_id=s.id, data=OrderCreate(
                legal_basis="Immigration Act 2016, Schedule 10, para 2 (immigration bail with electronic monitoring)",
                starts_at=now - timedelta(days=30 * (i + 1)), ends_at=now + timedelta(days=365), status="active",
                health_flags=["asthma"] if i == 1 else [],
                less_intrusive_options=[{"option": "reporting in person weekly",
                                         "reason_rejected": "two missed reporting events in the last quarter"}]))
            uow.session.flush()
            for spec in (
                {"kind": "zone", "name": "home", "zone_type": "inclusion",
                 "circle": {"lat": lat, "lon": lon, "radius_m": 100}},
                {"kind": "zone", "name": "Heathrow perimeter", "zone_type": "exclusion",
                 "geometry": {"type": "Polygon", "coordinates": [[[-0.49, 51.46], [-0.41, 51.46], [-0.41, 51.48],
                                                                  [-0.49, 51.48], [-0.49, 51.46]]]}},
                {"kind": "curfew", "rrule": "FREQ=DAILY", "start_local": "2027-01-01T21:00:00",
                 "duration_minutes": 540, "zone_name": "home"},
                {"kind": "check_in_policy", "prompts_per_day": 3, "waking_start": "08:00", "waking_end": "21:00",
                 "quiet_hours": [{"start": "12:30", "end": "13:30"}], "response_minutes": 15},
            ):
                orders.add_condition(uow=uow, order_id=order.id, data=ConditionCreate(spec=spec))
                uow.session.flush()
            kind = "smartwatch" if i % 2 == 0 else "ankle_tag"
            device, secret = devices.register(uow=uow, data=DeviceCreate(
                kind=kind, serial=f"CUS-{kind[:3].upper()}-{1001 + i}", barcode=f"5012345{678901 + i}"),
                device_key=container.device_key)
            uow.session.flush()
            devices.assign(uow=uow, device_id=device.id, data=AssignmentCreate(subject_id=s.id, starts_at=now))
            secrets[device.serial] = secret
        devices.register(uow=uow, data=DeviceCreate(kind="wristband", serial="CUS-WRI-2001", barcode="5012345999001"),
                         device_key=container.device_key)
        uow.commit()
    return secrets


def run(*, host: str, port: int, home: Path | None, serve: bool) -> None:
    console = Console()
    settings = Settings.from_env(home=home or Path.cwd() / "var" / "demo")
    db_file = settings.database_url.removeprefix("sqlite:///")
    if settings.database_url.startswith("sqlite") and Path(db_file).exists():
        for suffix in ("", "-wal", "-shm"):
            Path(db_file + suffix).unlink(missing_ok=True)
    migrate.upgrade(settings.database_url)
    container = bootstrap(settings)
    secrets = seed(container)
    table = Table(title="Demo logins (password for all: " + PASSWORD + ")")
    for col in ("username", "agency", "role"):
        table.add_column(col)
    for name, idx, role in USERS:
        table.add_row(name, AGENCIES[idx][0], str(role))
    console.print(table)
    console.print(f"database: {settings.database_url}")
    console.print("device secrets (shown once): " + ", ".join(f"{k}={v}" for k, v in secrets.items()))
    url = f"http://{host}:{port}"
    console.print(f"serving Custodes at [bold]{url}[/bold]  (API docs {url}/docs, OpenAPI {url}/openapi.json)")
    console.print(f"sign in: curl -s -X POST {url}/v1/auth/token -d 'username=casey&password={PASSWORD}'")
    if serve:
        from custodes.app import create_app
        from custodes.edge import server

        server.run(create_app(container), host=host, port=port, log_level="warning")
