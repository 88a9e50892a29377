"""Fixtures for proximity: the app seen from loopback (the phone adapters refuse plain HTTP from
anywhere else) and a monitored person with a device (shared with telemetry)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from custodes.app import create_app
from custodes.bootstrap import Container
from tests.telemetry.conftest import person  # noqa: F401


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), client=("127.0.0.1", 50000)) as c:
        yield c
