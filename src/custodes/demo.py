"""`custodes demo`: a small, realistic data set on the embedded SQLite database, then serve it."""

from __future__ import annotations

from datetime import date, timedelta
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import AgencyCreate, UserCreate
from custodes.access.security import DEMO_PASSWORD
from custodes.bootstrap import Container, bootstrap
from custodes.clock import AcceleratedClock
from custodes.config import Settings
from custodes.db import migrate
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate
from custodes.orders import service as orders
from custodes.orders.models import ConditionCreate, OrderCreate
from custodes.subjects import service as subjects
from custodes.subjects.models import ShareCreate, SubjectCreate

PASSWORD = DEMO_PASSWORD
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
        access.mark_installation(uow=uow, kind="demo")  # first: only a demo database takes the demo password
        uow.session.flush()
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
                                         "reason_rejected": "two missed reporting events in the last quarter"}],
                necessity={"necessity": "two missed reporting events; removal directions are being set",
                           "proportionality": "night curfew only; one exclusion zone; reviewed every 90 days",
                           "vulnerability_and_health": "screened at enrolment" + (
                               ": asthma, no bearing on the device" if i == 1 else ": nothing found")}))
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


class DemoRefused(Exception):
    """The database named is not one the demo may seed (it holds data and is not a demo)."""


def demo_settings(home: Path | None) -> Settings:
    """--home, else $CUSTODES_HOME, else ./var/demo; the database from CUSTODES_DATABASE_URL or the home."""
    settings = Settings.from_env(home=home)
    if home is None and "home" not in settings.model_fields_set:
        settings = Settings.from_env(home=Path.cwd() / "var" / "demo")
    return settings


def state(url: str) -> str:
    """"new" (no data), "demo" (made by the demo) or "other" (anything else: never touched)."""
    if url.startswith("sqlite") and not Path(url.removeprefix("sqlite:///")).exists():
        return "new"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            if "installation" in names:
                kind = conn.scalar(sa.text("SELECT kind FROM installation WHERE id = 1"))
                if kind is not None:
                    return "demo" if kind == "demo" else "other"
            for table in ("agencies", "users", "subjects"):
                if table in names and conn.scalar(sa.text(f"SELECT count(*) FROM {table}")):
                    return "other"
            return "new"
    finally:
        engine.dispose()


def run(*, host: str, port: int, home: Path | None, serve: bool, reset: bool = False, speed: float = 1.0,
        on_serving: Callable[[str], None] | None = None) -> None:
    """Seed (or reuse) the demo database and serve it; `on_serving(url)` is called just before serving
    (the CLI starts the simulated population there: the runtime never imports the lab)."""
    console = Console()
    settings = demo_settings(home)
    url = settings.database_url
    where = sa.engine.make_url(url).render_as_string(hide_password=True)
    found = state(url)
    if found == "other":
        raise DemoRefused(f"the database at {where} holds data and is not a demo database; "
                          "the demo seeds only a new database or one it made itself")
    if found == "demo" and reset:
        if not url.startswith("sqlite"):
            raise DemoRefused("--reset removes SQLite demo files only; drop a PostgreSQL demo schema yourself")
        db_file = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(db_file + suffix).unlink(missing_ok=True)
        found = "new"
    migrate.upgrade(url)
    if speed != 1.0 and "token_minutes" not in settings.model_fields_set:
        # Sign-ins last simulated minutes: the longest allowed (a day) is 12 real minutes at 120x.
        settings = settings.model_copy(update={"token_minutes": 24 * 60})
    container = bootstrap(settings, AcceleratedClock(speed) if speed != 1.0 else None)
    if found == "new":
        secrets = seed(container)
        console.print("device secrets (shown once): " + ", ".join(f"{k}={v}" for k, v in secrets.items()))
    else:
        console.print(f"reusing the demo database at {where} (--reset starts afresh)")
    table = Table(title="Demo logins (password for all: " + PASSWORD + ")")
    for col in ("username", "agency", "role"):
        table.add_column(col)
    for name, idx, role in USERS:
        table.add_row(name, AGENCIES[idx][0], str(role))
    console.print(table)
    console.print(f"database: {where} (marked as a demo database)")
    url = f"http://{host}:{port}"
    console.print(f"serving Custodes at [bold]{url}[/bold]  (API docs {url}/docs, OpenAPI {url}/openapi.json)")
    console.print(f"sign in: curl -s -X POST {url}/v1/auth/token -d 'username=casey&password={PASSWORD}'")
    if speed != 1.0:
        console.print(f"simulated time: {speed:g}x real time from {container.clock.now():%Y-%m-%d %H:%M} UTC")
    if serve:
        from custodes.app import create_app
        from custodes.edge import server

        app = create_app(container)
        if on_serving is not None:
            on_serving(url)
        server.run(app, host=host, port=port, log_level="warning")
