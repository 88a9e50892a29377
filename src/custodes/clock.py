"""The injected clock: logic asks a Clock for the time, never the system directly."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Real time. `live`: time moves by itself, so the runner's loops run against it."""

    live = True
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


class AcceleratedClock:
    """Simulated time that runs `speed` times faster than real time from `start` on, for the live
    demo and field simulations: a simulated day of curfews, check-ins and ticks in an hour."""

    live = True

    def __init__(self, speed: float, start: datetime | None = None, origin: datetime | None = None) -> None:
        """`origin`: the real instant at which simulated time equalled real time. Processes given the
        same speed and origin (the API and each `custodes worker`) read the same simulated time;
        without it, simulated time starts at `start` (default: now) when the clock is made."""
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._origin_real = time.monotonic()
        if origin is not None:
            origin = origin.astimezone(UTC)
            start = origin + (datetime.now(UTC) - origin) * self.speed
        self._origin = (start or datetime.now(UTC)).astimezone(UTC)

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._origin_real) * self.speed)


class FrozenClock:
    """A clock for tests and simulations: it moves only when told to."""

    live = False
    speed = 0.0

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)
