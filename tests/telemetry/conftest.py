"""Fixtures for telemetry: the app with the telemetry routes, a monitored person with a device."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from custodes.app import create_app
from custodes.bootstrap import Container
from custodes.lab.population import Monitored, enrol
from custodes.telemetry.views import router as telemetry_router

HOME = (51.5000, -0.1200)
# A square exclusion zone about 1 km east of home.
EXCLUSION = {"type": "Polygon", "coordinates": [[[-0.106, 51.498], [-0.102, 51.498], [-0.102, 51.502],
                                                 [-0.106, 51.502], [-0.106, 51.498]]]}
ORDER_START = datetime(2027, 1, 1, tzinfo=UTC)
ORDER_END = datetime(2027, 12, 31, tzinfo=UTC)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    app = create_app(container)
    if not any(getattr(r, "path", "") == "/v1/devices/{device_id}/telemetry" for r in app.routes):
        app.include_router(telemetry_router)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def person(container: Container, agencies: dict[str, uuid.UUID]) -> Monitored:
    return enrol(container, agencies["home_office"], home=HOME, since=ORDER_START, until=ORDER_END,
                 exclusions=[EXCLUSION])


@pytest.fixture
def other_person(container: Container, agencies: dict[str, uuid.UUID]) -> Monitored:
    return enrol(container, agencies["home_office"], home=(51.51, -0.13), since=ORDER_START, until=ORDER_END)
