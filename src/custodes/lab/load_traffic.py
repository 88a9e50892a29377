"""The traffic of `custodes bench load`: tags that fix every minute (every 15 s while in breach) and
upload what they have every 1-5 minutes, some out of coverage for a while and then sending their
buffer late, some walking into their exclusion zone once (the planted breaches).

Time is compressed so that the whole population offers `rate` uploads/s: data time runs `k` times
real time, with `k` = rate / (the population's natural uploads/s). The data ends 30 s before the real
clock at the end of the run (never in the future, and no device looks silent for an hour).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from custodes.lab.device_client import encode, fix, status
from custodes.lab.population import Monitored

FIX_S, BREACH_FIX_S = 60.0, 15.0
BREACH_S = 180.0  # three minutes inside the zone
DWELL_S = 60.0  # an exclusion zone's default min_dwell_s (orders/conditions.py)
EXCLUSION_EAST_M = 600.0  # the zone's centre, east of home; 150 m radius; home is a 100 m circle
EXCLUSION_RADIUS_M = 150.0
MAX_FIXES = 60  # a tag's upload holds at most this many (its buffer after a gap in coverage)
LAG_S = 30.0


def exclusion_of(home: tuple[float, float]) -> tuple[float, float]:
    return home[0], home[1] + EXCLUSION_EAST_M / (111_320 * np.cos(np.radians(home[0])))


@dataclass
class Tag:
    person: Monitored
    interval_s: float  # data seconds between uploads
    next_upload: float  # data time
    last_fix: float
    breach: tuple[float, float] | None
    gap: tuple[float, float] | None
    rng: np.random.Generator
    seq: int = 0
    breach_sent: bool = False  # an upload held a fix inside the zone: an alert is owed
    battery: float = 100.0
    pending: list = field(default_factory=list)  # fixes taken, not yet uploaded

    def _where(self, t: float) -> tuple[float, float, float, str]:
        if self.breach and self.breach[0] <= t <= self.breach[1]:
            lat, lon = exclusion_of(self.person.home)
        else:
            lat, lon = self.person.home
        if self.rng.random() < 0.03:  # indoors: a cell fix, hundreds of metres wide
            return lat, lon, float(self.rng.uniform(300, 900)), "cell"
        return (lat + self.rng.normal(0, 5e-5), lon + self.rng.normal(0, 8e-5),
                round(float(self.rng.uniform(4, 15)), 1), "gps")

    def upload(self, at: float) -> bytes | None:
        """The body this tag sends at data time `at`, or None (out of coverage: it keeps its buffer)."""
        while True:
            nxt = self.last_fix + FIX_S
            if self.breach and self.last_fix < self.breach[1] and nxt > self.breach[0]:
                nxt = max(self.last_fix + BREACH_FIX_S, min(nxt, self.breach[0]))
            if nxt > at:
                break
            self.last_fix = nxt
            self.pending.append((nxt, *self._where(nxt)))
        self.pending = self.pending[-MAX_FIXES:]
        if (self.gap and self.gap[0] <= at < self.gap[1]) or not self.pending:
            return None
        when = lambda t: datetime.fromtimestamp(t, UTC)  # noqa: E731
        # Owed an alert once a fix past the zone's dwell (60 s by default) is sent, not before: a breach
        # cut off by the end of the run raises nothing, rightly.
        if self.breach and any(self.breach[0] + DWELL_S <= f[0] <= self.breach[1] for f in self.pending):
            self.breach_sent = True
        items = [fix(when(t), round(lat, 7), round(lon, 7), acc, src) for t, lat, lon, acc, src in self.pending]
        if self.seq % 10 == 1:
            self.battery = max(60.0, self.battery - float(self.rng.uniform(0, 2)))
            items.append(status(when(self.pending[-1][0]), round(self.battery, 1)))
        self.seq += 1
        body = encode(self.seq, items)
        self.pending = []
        return body


class Schedule:
    """Every tag's uploads in real-time order. `due()` pops the next (real time, tag, body)."""

    def __init__(self, people: list[Monitored], rate: float, seconds: float, now: float, *,
                 breach_share: float, gap_share: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = len(people)
        intervals = rng.uniform(60, 300, n)
        self.natural_rate = float(np.sum(1 / intervals))  # uploads/s at real time
        self.k = rate / self.natural_rate
        self.seconds = seconds
        self.t0 = now
        self.d0 = now - LAG_S - max(0.0, self.k - 1) * seconds  # data time at t0
        span = self.k * seconds
        planted = set(rng.choice(n, int(round(breach_share * n)), replace=False).tolist()) if n else set()
        gapped = set(rng.choice(n, int(round(gap_share * n)), replace=False).tolist()) if n else set()
        self.tags: list[Tag] = []
        for i, p in enumerate(people):
            first = self.d0 + float(rng.uniform(0, intervals[i]))
            # after two fixes at home, so that the breach is a move from a known side into the zone, and
            # early enough that it is uploaded before the end where the run allows it
            b0 = (first - intervals[i] + 2 * FIX_S
                  + float(rng.uniform(0.1, 0.5)) * max(0.0, span - BREACH_S - 2 * intervals[i]))
            g0 = self.d0 + float(rng.uniform(0.1, 0.6)) * span
            self.tags.append(Tag(p, float(intervals[i]), first, first - float(intervals[i]),
                                 (b0, b0 + BREACH_S) if i in planted else None,
                                 (g0, g0 + min(float(rng.uniform(600, 2400)), span / 3)) if i in gapped else None,
                                 np.random.default_rng([seed, i])))
        self._heap = [(t.next_upload, i) for i, t in enumerate(self.tags)]
        heapq.heapify(self._heap)

    def start(self, now: float) -> None:
        """Start the real clock later than built (after the probe): the data only lags a little more."""
        self.t0 = now

    def real(self, data_t: float) -> float:
        return self.t0 + (data_t - self.d0) / self.k

    def planned(self) -> int:
        """Uploads due within the run (before coverage gaps, which hold some back)."""
        end = self.d0 + self.k * self.seconds
        return int(sum(max(0, np.floor((end - t.next_upload) / t.interval_s) + 1) for t in self.tags))

    def due(self) -> tuple[float, Tag, bytes | None]:
        data_t, i = heapq.heappop(self._heap)
        tag = self.tags[i]
        tag.next_upload = data_t + tag.interval_s
        heapq.heappush(self._heap, (tag.next_upload, i))
        return self.real(data_t), tag, tag.upload(data_t)
