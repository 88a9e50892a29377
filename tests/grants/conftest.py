"""Fixtures for trail grants: a monitored person with a loaded trail, police officers who can sign in again."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import UserCreate
from custodes.lab.device_client import encode, fix
from custodes.lab.population import Monitored, enrol
from custodes.telemetry.pipeline import Pipeline
PASSWORD = "correct-horse-battery"  # the root conftest's officers' password

HOME = (51.5000, -0.1200)


@pytest.fixture
def load_trail(client, clock, container) -> Callable[[Monitored, int], datetime]:
    """Upload `n` fixes a minute apart ending now for the person; returns the first fix's time."""

    def load(person: Monitored, n: int = 30) -> datetime:
        t0 = clock.now() - timedelta(minutes=n)
        body = encode(1, [fix(t0 + timedelta(minutes=i), person.home[0], person.home[1], 5.0, "gps")
                          for i in range(n)])
        r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
        assert r.status_code == 202, r.text
        Pipeline(container).run_once()
        return t0

    return load


@pytest.fixture
def enrolled(container, agencies) -> Callable[..., Monitored]:
    def make(agency: str = "home_office") -> Monitored:
        return enrol(container, agencies[agency], home=HOME, since=datetime(2027, 1, 1, tzinfo=UTC),
                     until=datetime(2027, 12, 31, tzinfo=UTC))
    return make


@pytest.fixture
def police(container, client, agencies) -> Callable[[], Callable[[], dict[str, str]]]:
    """police() -> sign_in(): a new police officer; each sign_in() call gets a fresh token (the clock moves)."""

    def make() -> Callable[[], dict[str, str]]:
        username = f"pc-{secrets.token_hex(3)}"
        with container.uow(Actor.system("test")) as uow:
            access.create_user(uow=uow, data=UserCreate(username=username, password=PASSWORD, role=Role.POLICE),
                               agency_id=agencies["police"])
            uow.commit()

        def sign_in() -> dict[str, str]:
            r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        return sign_in

    return make


def subject_name(container, subject_id: uuid.UUID) -> tuple[str, str]:
    from custodes.subjects.models import Subject
    with container.uow(Actor.system("test")) as uow:
        s = uow.session.get(Subject, subject_id)
        return s.full_name, s.date_of_birth.isoformat()
