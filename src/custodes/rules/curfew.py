"""Curfew windows: RFC 5545 recurrences in the subject's own time zone, turned into UTC instants.

A window runs from each occurrence to occurrence + duration, both in wall-clock time, so a
19:00-07:00 curfew lasts 11 h on the night clocks go forward and 13 h when they go back.
Wall-clock times that do not exist (the skipped hour) are read with the offset in force before
the change (fold=0, as zoneinfo does), and repeated times take their first occurrence.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr

from custodes.rules.models import CurfewRule


@lru_cache(maxsize=4096)
def _recurrence(text: str, dtstart: datetime) -> RRule:
    if dtstart.tzinfo is not None:
        raise ValueError("dtstart_local must be a naive wall-clock time")
    return rrulestr(text, dtstart=dtstart, cache=True)


def check(rule: CurfewRule) -> None:
    """Raise ValueError for a rule that cannot be evaluated."""
    ZoneInfo(rule.tz)
    _recurrence(rule.rrule, rule.dtstart_local)
    if rule.duration <= timedelta(0) or rule.duration > timedelta(days=1):
        raise ValueError(f"curfew {rule.curfew_id}: duration must be between 0 and 24 h")
    if rule.no_fix_after_s <= 0:
        raise ValueError(f"curfew {rule.curfew_id}: no_fix_after_s must be positive")


def to_utc(local: datetime, tz: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)


def window_of(rule: CurfewRule, start_local: datetime) -> tuple[datetime, datetime]:
    return to_utc(start_local, rule.tz), to_utc(start_local + rule.duration, rule.tz)


def windows_starting(rule: CurfewRule, after: datetime, upto: datetime) -> list[tuple[datetime, datetime]]:
    """UTC windows whose start lies in (after, upto]."""
    zone = ZoneInfo(rule.tz)
    # Pad by a day in local time so no offset change can hide an occurrence at the edges.
    lo = after.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    hi = upto.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    out = []
    for occ in _recurrence(rule.rrule, rule.dtstart_local).between(lo, hi, inc=True):
        start, end = window_of(rule, occ)
        if after < start <= upto:
            out.append((start, end))
    return out


@lru_cache(maxsize=4096)
def _year(rule: CurfewRule, year: int) -> tuple[list[datetime], list[tuple[datetime, datetime]]]:
    """The UTC windows of one rule starting around one (local) year, computed once and shared by
    every subject with that rule: the recurrence is expanded once, then searched by bisection."""
    rec = _recurrence(rule.rrule, rule.dtstart_local)
    spans = [window_of(rule, occ) for occ in rec.between(datetime(year, 1, 1) - timedelta(days=2),
                                                          datetime(year + 1, 1, 1) + timedelta(days=2), inc=True)]
    return [start for start, _ in spans], spans


def next_window(rule: CurfewRule, after: datetime) -> tuple[datetime, datetime] | None:
    """The first window starting strictly after `after` (None when the recurrence has ended)."""
    year = after.year
    for y in range(year, year + 3):
        starts, spans = _year(rule, y)
        i = bisect_right(starts, after)
        if i < len(starts):
            return spans[i]
    # A sparse recurrence (yearly and rarer): walk it.
    zone = ZoneInfo(rule.tz)
    local = after.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    rec = _recurrence(rule.rrule, rule.dtstart_local)
    while True:
        occ = rec.after(local, inc=False)
        if occ is None:
            return None
        start, end = window_of(rule, occ)
        if start > after:
            return start, end
        local = occ


def window_at(rule: CurfewRule, at: datetime) -> tuple[datetime, datetime] | None:
    """The window containing instant `at` (start <= at < end), if any."""
    for start, end in windows_starting(rule, at - rule.duration - timedelta(hours=2), at):
        if start <= at < end:
            return start, end
    return None
