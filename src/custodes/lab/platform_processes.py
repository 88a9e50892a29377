"""The processes of a running platform, found from outside, and their CPU and memory while a load runs.

Read from /proc (psutil is not a dependency): the API is the process listening on the URL's port,
the broker the one listening on the MQTT port, the workers are `custodes worker` processes whose
environment names the same database (so another deployment's workers on this machine are not
counted), and PostgreSQL's share is the backends connected to that database.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def listening_pids(port: int) -> list[int]:
    """Processes holding a TCP socket that listens on `port` (any address, IPv4 or IPv6)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(cols[9])
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    found = []
    for pid in _pids():
        try:
            if any(os.readlink(f) in wanted for f in (PROC / str(pid) / "fd").iterdir()):
                found.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return found


def worker_pids(database_url: str) -> list[int]:
    """`custodes worker` processes of this deployment (same CUSTODES_DATABASE_URL in their environment)."""
    found = []
    for pid in _pids():
        try:
            argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
            if b"worker" not in argv or not any(a.endswith(b"custodes") or b"custodes.cli" in a for a in argv):
                continue
            env = dict(kv.split(b"=", 1) for kv in (PROC / str(pid) / "environ").read_bytes().split(b"\0") if b"=" in kv)
        except OSError:
            continue
        if env.get(b"CUSTODES_DATABASE_URL", b"").decode() == database_url:
            found.append(pid)
    return sorted(found)


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _ticks_rss(pid: int) -> tuple[int, int] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    cols = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(cols[11]) + int(cols[12]), _pss(pid) or int(cols[21]) * PAGE  # utime + stime, memory


def _pss(pid: int) -> int | None:
    """Proportional set size: shared pages (PostgreSQL's shared buffers, libraries) divided among the
    processes that map them, so that a group's sum is not the same shared memory counted N times."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass
class Sampler:
    """CPU (share of one core) and resident memory of named groups of processes, sampled every
    `period_s` from `start()` to `stop()`. A group's pids may change while it runs (PostgreSQL
    backends come and go): `refresh` is called at each sample to find them again."""

    groups: dict[str, list[int]]
    refresh: dict[str, object] = field(default_factory=dict)  # group -> callable returning pids
    period_s: float = 1.0
    _first: dict[int, int] = field(default_factory=dict)
    _last: dict[int, int] = field(default_factory=dict)
    _peak: dict[str, int] = field(default_factory=dict)
    _rss_sum: dict[str, float] = field(default_factory=dict)
    _n: int = 0

    def start(self) -> Sampler:
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample()

    def _sample(self) -> None:
        for name, find in self.refresh.items():
            self.groups[name] = sorted(set(self.groups.get(name, [])) | set(find()))
        self._n += 1
        for name, pids in self.groups.items():
            rss = 0
            for pid in pids:
                got = _ticks_rss(pid)
                if got is None:
                    continue
                self._first.setdefault(pid, got[0])
                self._last[pid] = got[0]
                rss += got[1]
            self._peak[name] = max(self._peak.get(name, 0), rss)
            self._rss_sum[name] = self._rss_sum.get(name, 0) + rss

    def stop(self) -> dict[str, dict]:
        self._stop.set()
        self._thread.join(5)
        self._sample()
        wall = max(time.monotonic() - self._t0, 1e-9)
        out = {}
        for name, pids in self.groups.items():
            ticks = sum(self._last.get(p, 0) - self._first.get(p, 0) for p in pids)
            out[name] = {"pids": pids, "cpu_pct_of_one_core": round(100 * ticks / TICK / wall, 1),
                         "pss_mb_mean": round(self._rss_sum.get(name, 0) / self._n / 2**20, 1),
                         "pss_mb_peak": round(self._peak.get(name, 0) / 2**20, 1)}
        return out
