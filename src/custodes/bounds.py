"""Plausible ranges for the dates, times and numbers people type: checked at the edge, before
anything is stored, so that no value the database or the arithmetic after it cannot hold gets in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from custodes.errors import Invalid

# Orders, assignments and searches are about the present: nothing monitored here began before 2000
# or ends after 2100. The bound also keeps every later `+ timedelta(...)` inside datetime's range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST_BIRTH = date(1900, 1, 1)
# No listing holds two billion rows; larger offsets overflow the databases' integer types.
MAX_OFFSET = 2**31 - 1


def _instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-14:00 has no UTC representation
        raise ValueError("time out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"time must be from {EARLIEST.year} to {LATEST.year - 1}")
    return value


def _birth(value: date) -> date:
    if value < EARLIEST_BIRTH:
        raise ValueError(f"date of birth before {EARLIEST_BIRTH.year}")
    if value >= LATEST.date():
        raise ValueError("date of birth in the future")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_instant)]
BirthDate = Annotated[date, AfterValidator(_birth)]


def check_birth_not_after(value: date, today: date) -> None:
    """The future half of the birth-date check needs the injected clock, so services call it."""
    if value > today:
        raise Invalid.field("date_of_birth", "date of birth in the future")
