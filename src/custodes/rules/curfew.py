"""Curfew windows: RFC 5545 recurrences in the subject's own time zone, turned into UTC instants.

A window runs from each occurrence to occurrence + duration, both in wall-clock time, so a
19:00-07:00 curfew lasts 11 h on the night clocks go forward and 13 h when they go back.
Wall-clock times that do not exist (the skipped hour) are read with the offset in force before
the change (fold=0, as zoneinfo does), and repeated times take their first occurrence.

Every expansion is bounded before it starts (`bounds`): one FREQ of DAILY or rarer, INTERVAL at
least 1, at most `MAX_OCCURRENCES_PER_DAY` occurrences a day, a first window within two years of
a start no earlier than `MIN_START_YEAR`; the API refuses any rule outside them with the same words.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr

from custodes.rules.models import CurfewRule

ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_OCCURRENCES_PER_DAY = 6  # a few reporting windows a day; far more is a mistake, not a curfew
MAX_INTERVAL = 1000
MIN_START_YEAR, MAX_START_YEAR = 2000, 2100  # expansions run from the start: keep it near
FIRST_WITHIN = timedelta(days=731)
_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "BYSECOND",
          "BYSETPOS", "BYYEARDAY", "BYWEEKNO", "WKST"}
_PER_DAY = {"BYHOUR": 23, "BYMINUTE": 59, "BYSECOND": 59}


class RuleBoundExceeded(ValueError):
    """A recurrence that could not be expanded within the bounds (or not at all)."""


def bounds(text: str) -> dict[str, str]:
    """Check an RRULE's text against the bounds without expanding it; returns its parts."""
    parts: dict[str, str] = {}
    for part in text.strip().removeprefix("RRULE:").split(";"):
        name, eq, value = part.partition("=")
        name = name.strip().upper()
        if not eq or not value.strip():
            raise RuleBoundExceeded(f"rrule part {part!r} is not NAME=VALUE")
        if name not in _PARTS:
            raise RuleBoundExceeded(f"rrule part {name[:40]} is not supported")
        if name in parts:
            raise RuleBoundExceeded(f"rrule gives {name} twice")
        parts[name] = value.strip()
    if parts.get("FREQ") not in ALLOWED_FREQ:
        raise RuleBoundExceeded(f"rrule FREQ must be one of {', '.join(ALLOWED_FREQ)}")
    for name, lo, hi in (("INTERVAL", 1, MAX_INTERVAL), ("COUNT", 1, 100_000)):
        if name in parts and not (parts[name].isdigit() and lo <= int(parts[name]) <= hi):
            raise RuleBoundExceeded(f"rrule {name} must be a whole number from {lo} to {hi}")
    per_day = 1
    for name, top in _PER_DAY.items():
        if name not in parts:
            continue
        values = parts[name].split(",")
        if not all(v.isdigit() and int(v) <= top for v in values):
            raise RuleBoundExceeded(f"rrule {name} values must be whole numbers from 0 to {top}")
        if len(set(map(int, values))) != len(values):
            raise RuleBoundExceeded(f"rrule {name} lists a value twice")
        per_day *= len(values)
    if per_day > MAX_OCCURRENCES_PER_DAY:
        raise RuleBoundExceeded(f"rrule fires {per_day} times a day; at most {MAX_OCCURRENCES_PER_DAY}")
    return parts


def first_occurrence(text: str, dtstart: datetime) -> datetime:
    """The first occurrence, searched only up to two years after the start (a bounded walk)."""
    if not MIN_START_YEAR <= dtstart.year <= MAX_START_YEAR:
        raise RuleBoundExceeded(f"the first window must start between {MIN_START_YEAR} and {MAX_START_YEAR}")
    bounds(text)
    try:
        rec = rrulestr(text.strip().removeprefix("RRULE:"), dtstart=dtstart)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise RuleBoundExceeded(f"rrule does not parse: {exc}") from None
    first = next(iter(rec.replace(until=dtstart + FIRST_WITHIN, count=None)), None)
    if first is None:
        raise RuleBoundExceeded("rrule yields no occurrence within two years of its start")
    return first


@lru_cache(maxsize=4096)
def _recurrence(text: str, dtstart: datetime) -> RRule:
    if dtstart.tzinfo is not None:
        raise ValueError("dtstart_local must be a naive wall-clock time")
    first_occurrence(text, dtstart)  # nothing unbounded is ever expanded
    return rrulestr(text, dtstart=dtstart, cache=True)


def check(rule: CurfewRule) -> None:
    """Raise ValueError (RuleBoundExceeded for the recurrence) for a rule that cannot be evaluated."""
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
