"""Per-device upload rate limits: a token bucket per device, in the memory of each API process.

A device flushing a long offline buffer sends a burst, then one batch a minute or so; the bucket
holds the burst and refills at a steady rate. The check runs after the signature check, so nobody
can spend another device's allowance by naming it. Behind a load balancer each process keeps its
own buckets: the limit per device is then at most the per-process limit times the processes.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime


class RateLimiter:
    def __init__(self, *, burst: int, per_second: float, max_keys: int = 200_000) -> None:
        self.burst, self.per_second, self.max_keys = burst, per_second, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, now: datetime) -> float:
        """Spend one token; 0 if allowed, else the seconds until one is available."""
        t = now.timestamp()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.burst), t))
            tokens = min(float(self.burst), tokens + max(0.0, t - at) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, t)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, t)
                wait = (1 - tokens) / self.per_second
            while len(self._buckets) > self.max_keys:  # forget the longest-idle devices first
                self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
