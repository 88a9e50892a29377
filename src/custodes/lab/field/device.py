"""What a simulated device sends: fixes every 60 s (15 s during a violation) with real GPS noise and
accuracy, indoor Wi-Fi and cell-only stretches at home, battery drain and charging, the strap, and
buffering through coverage gaps (the buffer goes up late, in one upload, when coverage returns)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from custodes.lab.device_client import fix, status
from custodes.lab.field.plan import HOME_RADIUS_M, STEP_S, Plan, metres


@dataclass
class SimDevice:
    plan: Plan
    device_id: str
    secret: str
    kind: str  # smartwatch | ankle_tag
    upload_every_s: float
    rng: np.random.Generator
    subject_id: str = ""
    identity: int | None = None  # the LFW person enrolled for this watch's wearer
    enrolled: list = field(default_factory=list)
    seq: int = 0
    sent_until: float = 0.0  # epoch s: fixes up to here have been sent (or buffered for a gap)
    next_upload: float = 0.0
    buffered: list[dict] = field(default_factory=list)
    sent_fixes: int = 0
    uploads: int = 0
    late_uploads: int = 0
    errors: int = 0
    prompts_seen: set[str] = field(default_factory=set)
    # cell-only stretches at home: (start, end) epoch s
    cell_only: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        t = self.plan.t
        self.sent_until = float(t[0])
        self.next_upload = float(t[0]) + self.rng.uniform(0, self.upload_every_s)
        for _ in range(int(len(t) * STEP_S / 86400 * 3) + 1):
            s = float(self.rng.uniform(t[0], t[-1]))
            self.cell_only.append((s, s + self.rng.uniform(600, 1800)))

    def _in(self, spans: list[tuple[float, float]], x: float) -> bool:
        return any(a <= x < b for a, b in spans)

    def battery(self, x: float) -> tuple[float, bool]:
        """(percent, charging): 3 %/h through the day, on the charger 22:00-24:00 local; a device
        planted without charging starts at 45 % and drains 4 %/h."""
        if not self.plan.charges:
            return max(0.0, 45.0 - 4.0 * (x - self.plan.t[0]) / 3600), False
        local = datetime.fromtimestamp(x, ZoneInfo(self.plan.person.tz))
        h = local.hour + local.minute / 60
        if h >= 22:
            return min(100.0, 34.0 + 33.0 * (h - 22)), True
        return max(25.0, 100.0 - 3.0 * h), False

    def items_between(self, a: float, b: float) -> list[dict]:
        """The fixes (every 60 s, or 15 s while violating) and one status for (a, b]."""
        p = self.plan
        lo, hi = np.searchsorted(p.t, a, side="right"), np.searchsorted(p.t, b, side="right")
        items: list[dict] = []
        for i in range(lo, hi):
            x = float(p.t[i])
            if self._in(p.silent, x) or not (p.violating[i] or round(x) % 60 == 0):
                continue
            items.append(self._fix(i, x))
        if items and not self._in(p.silent, b):
            pct, charging = self.battery(b)
            strap = "open" if p.strap_open and p.strap_open[0] <= b < p.strap_open[1] else "closed"
            items.append(status(datetime.fromtimestamp(b, UTC), round(pct, 1), strap, charging))
        return items

    def _fix(self, i: int, x: float) -> dict:
        p = self.plan
        at_home = metres(p.home[0], p.home[1], p.lat[i:i + 1], p.lon[i:i + 1])[0] < HOME_RADIUS_M
        if at_home and self._in(self.cell_only, x) and not p.violating[i]:
            source, acc = "cell", float(self.rng.uniform(300, 900))
        elif at_home and self.rng.random() < 0.5:
            source, acc = "wifi", float(self.rng.uniform(15, 40))
        else:
            source, acc = "gps", float(self.rng.uniform(4, 12))
        sigma = acc / 2.45  # accuracy as a ~95 % radius: the 2-D normal's 2.45 sigma
        dy, dx = self.rng.normal(0, sigma, 2)
        lat = float(p.lat[i]) + dy / 111_320
        lon = float(p.lon[i]) + dx / (111_320 * math.cos(math.radians(float(p.lat[i]))))
        return fix(datetime.fromtimestamp(x, UTC), round(lat, 7), round(lon, 7), round(acc, 1), source)

    def due(self, now: float) -> bool:
        return now >= self.next_upload and self.sent_until < self.plan.t[-1]

    def take(self, now: float) -> list[dict] | None:
        """The items to upload now, or None while out of coverage / switched off (kept for later)."""
        now = min(now, float(self.plan.t[-1]))
        items = self.items_between(self.sent_until, now)
        self.sent_until = now
        self.next_upload = now + self.upload_every_s * self.rng.uniform(0.8, 1.2)
        if self._in(self.plan.gaps, now) or self._in(self.plan.silent, now):
            self.buffered += items  # out of coverage, or switched off: kept on the device
            return None
        if self.buffered:
            items, self.buffered = self.buffered + items, []
            self.late_uploads += 1
        return items or None
