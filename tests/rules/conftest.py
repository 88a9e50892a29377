"""Fixtures for the rules tests (helpers live in rules_support.py)."""

import pytest


@pytest.fixture
def fix_at():
    """fix_at(when, east_m, north_m, acc=5, centre=(LAT0, LON0)) -> Fix with an id from its time."""
    from .rules_support import make_fix

    return make_fix
