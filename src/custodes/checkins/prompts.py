"""Drawing each day's unannounced check-in prompts from an order's check-in policy.

A day's schedule is drawn *uniformly at random among every schedule the policy allows*, from a
cryptographic random source. Uniform over the allowed schedules is the most unpredictable draw
there is: knowing past days, the policy and this code tells the wearer nothing more than the
policy itself does. The policy is applied to real instants (UTC minutes), with every minute's
local wall time taken from the subject's time zone, so DST days (23 or 25 hours, repeated or
missing wall-clock hours) never break it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

MAX_PROMPTS_PER_DAY = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MINUTES = 1440


class PolicyError(ValueError):
    """A check-in policy that cannot be applied; `field` names the offending setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _minute_of_day(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class CheckInPolicy:
    """An order's check-in policy. Windows are local wall-clock times in `time_zone`.

    The waking window may run past midnight (e.g. 20:00-04:00 for night work); an end equal to the
    start means the whole day. Each quiet period may also wrap midnight. A prompt's whole response
    window must fall inside waking time and outside quiet hours, so the wearer is never asked to
    answer during quiet hours. Prompts never overlap: the effective gap between two prompts is the
    larger of `min_gap_minutes` and the response window.
    """

    prompts_per_day: int
    waking_start: time
    waking_end: time
    time_zone: str
    quiet_hours: tuple[tuple[time, time], ...] = ()
    min_gap_minutes: int = 60
    response_window_minutes: int = 15
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.prompts_per_day <= MAX_PROMPTS_PER_DAY:
            raise PolicyError("prompts_per_day", f"must be between 0 and {MAX_PROMPTS_PER_DAY}")
        if not 1 <= self.response_window_minutes <= 240:
            raise PolicyError("response_window_minutes", "must be between 1 and 240")
        if not 0 <= self.min_gap_minutes <= 720:
            raise PolicyError("min_gap_minutes", "must be between 0 and 720")
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.time_zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PolicyError("time_zone", f"unknown time zone {self.time_zone!r}") from exc
        for start, end in self.quiet_hours:
            if start == end:
                raise PolicyError("quiet_hours", "a quiet period must not be empty")

    @property
    def gap_minutes(self) -> int:
        return max(self.min_gap_minutes, self.response_window_minutes)

    def waking_span(self, day: date) -> tuple[datetime, datetime]:
        """The instants bounding `day`'s waking window (UTC). A missing wall time (spring forward)
        resolves past the gap; a repeated one (fall back) to its first occurrence."""
        end_day = day if self.waking_end > self.waking_start else day + timedelta(days=1)
        start = datetime.combine(day, self.waking_start, self.zone).astimezone(UTC)
        end = datetime.combine(end_day, self.waking_end, self.zone).astimezone(UTC)
        return start, end

    def local_minute_allowed(self, local_minute: np.ndarray) -> np.ndarray:
        """Whether a local minute-of-day lies in the waking window and outside every quiet period."""
        allowed = _in_window(local_minute, _minute_of_day(self.waking_start), _minute_of_day(self.waking_end))
        for start, end in self.quiet_hours:
            allowed &= ~_in_window(local_minute, _minute_of_day(start), _minute_of_day(end))
        return allowed


def _in_window(minute: np.ndarray, start: int, end: int) -> np.ndarray:
    if start == end:
        return np.ones_like(minute, dtype=bool)
    if start < end:
        return (minute >= start) & (minute < end)
    return (minute >= start) | (minute < end)


@dataclass(frozen=True)
class PromptSlot:
    opens_at: datetime
    closes_at: datetime


def _epoch_minute(at: datetime) -> int:
    return int((at - _EPOCH).total_seconds() // 60)


def _offset_minutes(zone: ZoneInfo, minute: int) -> int:
    at = _EPOCH + timedelta(minutes=minute)
    return int(at.astimezone(zone).utcoffset().total_seconds() // 60)


def _offsets(zone: ZoneInfo, first: int, last: int) -> np.ndarray:
    """UTC offset (minutes) of each epoch minute in [first, last]. A zone changes offset at most
    once inside a day, so the transition is found by bisection instead of 1,440 zone lookups."""
    n = last - first + 1
    a, b = _offset_minutes(zone, first), _offset_minutes(zone, last)
    out = np.full(n, a, dtype=np.int64)
    if a != b:
        lo, hi = first, last  # off(lo) == a, off(hi) != a
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_minutes(zone, mid) == a:
                lo = mid
            else:
                hi = mid
        out[hi - first:] = b
    return out


def candidate_minutes(policy: CheckInPolicy, day: date, previous: Sequence[datetime] = ()) -> np.ndarray:
    """Epoch minutes at which a prompt may open on `day`: its whole response window is allowed
    time, and it keeps the gap from every prompt in `previous` (e.g. yesterday's last ones)."""
    start, end = policy.waking_span(day)
    first = -(-int((start - _EPOCH).total_seconds()) // 60)  # round up to a whole minute
    last = _epoch_minute(end) - 1
    if last < first:
        return np.empty(0, dtype=np.int64)
    minutes = np.arange(first, last + 1, dtype=np.int64)
    local = (minutes + _offsets(policy.zone, first, last)) % _DAY_MINUTES
    allowed = policy.local_minute_allowed(local)
    window = policy.response_window_minutes
    run = np.concatenate(([0], np.cumsum(allowed, dtype=np.int64)))
    ok = (run[window:] - run[:-window]) == window  # minutes i..i+window-1 all allowed
    cands = minutes[: len(ok)][ok]
    gap = policy.gap_minutes
    for prev in previous:
        p = _epoch_minute(prev)
        cands = cands[(cands >= p + gap) | (cands <= p - gap)]
    return cands


def _subset_counts(cands: np.ndarray, gap: int, k_max: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """`counts[k][i]`: how many gap-respecting k-subsets use only candidates i.. (int64 is ample:
    at most C(1500, 5) ~ 6e13)."""
    m = len(cands)
    nxt = np.searchsorted(cands, cands + gap, side="left")
    counts = [np.ones(m + 1, dtype=np.int64)]
    for _ in range(k_max):
        take = counts[-1][nxt]
        row = np.zeros(m + 1, dtype=np.int64)
        row[:m] = np.cumsum(take[::-1])[::-1]
        counts.append(row)
    return nxt, counts


def schedule_count(policy: CheckInPolicy, day: date, previous: Sequence[datetime] = ()) -> int:
    """How many distinct full schedules the policy allows on `day` (the draw's support)."""
    cands = candidate_minutes(policy, day, previous)
    _, counts = _subset_counts(cands, policy.gap_minutes, policy.prompts_per_day)
    return int(counts[policy.prompts_per_day][0])


def draw_day(
    policy: CheckInPolicy,
    day: date,
    rng: Random | None = None,
    previous: Sequence[datetime] = (),
) -> list[PromptSlot]:
    """Draw `day`'s prompts uniformly among all schedules the policy allows.

    If a day cannot hold `prompts_per_day` prompts (a short DST day under a tight policy), it gets
    as many as fit: the policy's limits are never broken to make up the number.
    """
    rng = rng or secrets.SystemRandom()
    cands = candidate_minutes(policy, day, previous)
    nxt, counts = _subset_counts(cands, policy.gap_minutes, policy.prompts_per_day)
    k = policy.prompts_per_day
    while k > 0 and counts[k][0] == 0:
        k -= 1
    chosen: list[int] = []
    r = rng.randrange(int(counts[k][0])) if k else 0
    i = 0
    while k > 0:
        take = counts[k - 1][nxt[i:]]  # schedules that start with candidate i, i+1, ...
        prefix = np.cumsum(take)
        j = int(np.searchsorted(prefix, r, side="right"))
        r -= int(prefix[j - 1]) if j else 0
        chosen.append(int(cands[i + j]))
        i = int(nxt[i + j])
        k -= 1
    window = timedelta(minutes=policy.response_window_minutes)
    return [
        PromptSlot(opens_at=_EPOCH + timedelta(minutes=m), closes_at=_EPOCH + timedelta(minutes=m) + window)
        for m in chosen
    ]


def draw_days(
    policy: CheckInPolicy,
    first_day: date,
    days: int,
    rng: Random | None = None,
    previous: Sequence[datetime] = (),
) -> Iterator[tuple[date, list[PromptSlot]]]:
    """Draw consecutive days, carrying each day's prompts into the next day's gap check."""
    rng = rng or secrets.SystemRandom()
    prev = list(previous)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        slots = draw_day(policy, day, rng, prev)
        yield day, slots
        prev = [s.opens_at for s in slots] or prev
