"""Fixtures for the phone adapters: two people (one using an adapter, one the native signed API)
whose orders started long ago, so the real client samples of 2013-2025 fall inside them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from custodes.actor import Actor
from custodes.app import create_app
from custodes.bootstrap import Container
from custodes.lab.population import Monitored, enrol
from custodes.telemetry import trail
from custodes.telemetry.pipeline import Pipeline

SINCE = datetime(2010, 1, 1, tzinfo=UTC)
UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The app as a client on this machine sees it (a phone reaches it through a local TLS proxy)."""
    with TestClient(create_app(container), client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def phone(container: Container, agencies: dict[str, uuid.UUID]) -> Monitored:
    return enrol(container, agencies["home_office"], home=(51.5, -0.12), since=SINCE, until=UNTIL, curfew=None)


@pytest.fixture
def tag(container: Container, agencies: dict[str, uuid.UUID]) -> Monitored:
    return enrol(container, agencies["home_office"], home=(51.5, -0.12), since=SINCE, until=UNTIL, curfew=None)


def trail_of(container: Container, subject_id: uuid.UUID) -> list[tuple]:
    """Run the pipeline, then the subject's whole trail as comparable tuples."""
    while Pipeline(container).run_once().batches:
        pass
    with container.uow(Actor.system("test")) as uow:
        points = trail.read(uow.session, subject_id, SINCE, UNTIL - timedelta(days=1))
    return sorted((p.at, round(p.lat, 6), round(p.lon, 6), round(p.accuracy_m, 2), p.source,
                   None if p.speed_mps is None else round(p.speed_mps, 2)) for p in points)
