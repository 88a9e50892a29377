"""A short, bounded load of signed device uploads (the lab's device client and platform client) and
the ledger that checks it: every batch answered 202 is stored once and processed, its fixes are all
in the trail, and no alert or notification is there twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.bootstrap import Container
from custodes.lab.device_client import encode, fix
from custodes.lab.field.platform import Platform
from custodes.lab.population import Monitored, enrol
from custodes.outbox.models import OutboxMessage
from custodes.telemetry.models import TelemetryBatch, TrailSegment

HOME = (51.5000, -0.1200)
# A square exclusion zone about 1 km east of home.
EXCLUSION = {"type": "Polygon", "coordinates": [[[-0.106, 51.498], [-0.102, 51.498], [-0.102, 51.502],
                                                 [-0.106, 51.502], [-0.106, 51.498]]]}
INSIDE_EXCLUSION = (51.5000, -0.1040)
PER_BATCH = 20
BREACH_SEQ = 3  # each device's batch that goes into the exclusion zone (then home again)
EXPECTED_KINDS = ["exclusion_zone_entered", "inclusion_zone_exited"]


def population(container: Container, agency_id: uuid.UUID, n: int, *, days: int = 2) -> list[Monitored]:
    now = container.clock.now()
    return [enrol(container, agency_id, home=HOME, since=now - timedelta(days=days), until=now + timedelta(days=30),
                  exclusions=[EXCLUSION], curfew=None) for _ in range(n)]


def batch(seq: int, t0: datetime, *, where: tuple[float, float] | None = None, n: int = PER_BATCH) -> bytes:
    """Batch `seq` of a device: n fixes over the first 200 s of the 5 minutes of data time it covers."""
    start = t0 + timedelta(minutes=5 * seq)
    at = where or (INSIDE_EXCLUSION if seq == BREACH_SEQ else HOME)
    step = max(1, 200 // n)  # then 100 s or more to the next batch: a plausible walk between places
    return encode(seq, [fix(start + timedelta(seconds=step * i), *at, 6.0) for i in range(n)])


@dataclass
class Load:
    """Devices upload batches 0..batches-1 over HTTP, each resent until it is answered 202 (as a tag
    does: a refusal with Retry-After, or no answer, means try again), within `deadline_s`."""

    url: str
    devices: list[Monitored]
    batches: int
    pause_s: float = 0.05
    deadline_s: float = 60.0
    accepted: dict[tuple[uuid.UUID, int], int] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    retry_after: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, clock) -> Load:
        self.t0 = clock.now() - timedelta(hours=3)
        self._clock = clock
        for chunk in (self.devices[i::4] for i in range(4)):
            t = threading.Thread(target=self._run, args=(chunk,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def join(self) -> None:
        for t in self._threads:
            t.join(self.deadline_s + 10)

    def _run(self, devices: list[Monitored]) -> None:
        platform = Platform(self.url, "nobody", "nothing", timeout=10)
        end = time.monotonic() + self.deadline_s
        try:
            for seq in range(self.batches):
                for person in devices:
                    body = batch(seq, self.t0)
                    while time.monotonic() < end:
                        try:
                            r = platform.upload(person.client, body, self._clock.now())
                        except httpx.HTTPError:
                            self._note(0)
                            time.sleep(0.2)
                            continue
                        self._note(r.status_code, r)
                        if r.status_code == 202:
                            with self._lock:
                                self.accepted[(person.device_id, seq)] = r.json()["accepted"]
                            break
                        time.sleep(min(float(r.headers.get("Retry-After", "1")), 1.0) / 4)
                time.sleep(self.pause_s)
        finally:
            platform.http.close()

    def _note(self, status: int, r: httpx.Response | None = None) -> None:
        with self._lock:
            self.statuses.append(status)
            if r is not None and r.status_code >= 500:
                self.problems.append({"status": r.status_code, "type": r.headers.get("content-type"),
                                      "body": r.text[:200]})
                self.retry_after.append(r.headers.get("Retry-After", ""))


def ledger(container: Container) -> dict:
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        alerts = s.execute(select(Alert.subject_id, Alert.kind, Alert.occurred_at)).all()
        deliveries = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "notify.mqtt")).all()
        return {
            "stored": {(d, q) for d, q in s.execute(select(TelemetryBatch.device_id, TelemetryBatch.seq))},
            "processed": s.scalar(select(func.count()).select_from(TelemetryBatch)
                                  .where(TelemetryBatch.processed_at.is_not(None))),
            "pending": s.scalar(select(func.count()).select_from(TelemetryBatch)
                                .where(TelemetryBatch.processed_at.is_(None))),
            "trail_fixes": int(s.scalar(select(func.coalesce(func.sum(TrailSegment.n), 0)))),
            "alerts": alerts,
            "notices": s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.topic == "alert.raised")),
            "deliveries": [p["message_id"] for p in deliveries],
        }


def wait_processed(container: Container, n: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        now = ledger(container)
        if now["processed"] >= n and now["pending"] == 0 or time.monotonic() > deadline:
            return now
        time.sleep(0.3)


def assert_nothing_lost_or_twice(state: dict, accepted: dict[tuple[uuid.UUID, int], int],
                                 devices: list[Monitored], batches: int) -> None:
    """Every batch answered 202 is stored and processed, with all its fixes in the trail; each device
    raised exactly the alerts its data called for, once each, with one notice per alert."""
    want = {(p.device_id, q) for p in devices for q in range(batches)}
    assert set(accepted) == want, f"{len(want - set(accepted))} batches never got a 202 within the bound"
    assert state["stored"] == want, f"lost: {sorted(want - state['stored'])[:5]}"
    assert state["pending"] == 0 and state["processed"] == len(want), state
    assert state["trail_fixes"] == sum(accepted.values()), (state["trail_fixes"], sum(accepted.values()))
    keys = [(sid, kind, at) for sid, kind, at in state["alerts"]]
    assert len(keys) == len(set(keys)), "an alert was raised twice"
    by_subject: dict[uuid.UUID, list[str]] = {}
    for sid, kind, _ in state["alerts"]:
        by_subject.setdefault(sid, []).append(kind)
    if batches > BREACH_SEQ:
        got = {sid: sorted(k) for sid, k in by_subject.items()}
        assert got == {p.subject_id: EXPECTED_KINDS for p in devices}, got
    assert state["notices"] == len(keys), "one alert.raised notice per alert"
    assert len(state["deliveries"]) == len(set(state["deliveries"])), "a notification queued twice"
