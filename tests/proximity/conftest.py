"""Fixtures for proximity: the telemetry app and a monitored person with a device (shared)."""

from tests.telemetry.conftest import client, person  # noqa: F401
