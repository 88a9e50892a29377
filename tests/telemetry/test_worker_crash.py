"""Acceptance: `custodes worker` processes killed mid-batch lose no accepted fix and raise no
duplicate alert, with telemetry arriving over the real MQTT broker (Mosquitto)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.bootstrap import bootstrap
from custodes.clock import SystemClock
from custodes.lab.device_client import encode, fix
from custodes.lab.population import enrol
from custodes.outbox.models import OutboxMessage
from custodes.telemetry.models import TelemetryBatch, TrailSegment
from custodes.telemetry.mqtt import connect, forget_session

from .conftest import EXCLUSION, HOME

INSIDE_EXCLUSION = (51.5000, -0.1040)
BATCHES, PER_BATCH = 6, 40


@pytest.fixture
def live(settings):
    c = bootstrap(settings, SystemClock())
    yield c
    c.close()


def start_worker(settings, name: str, fault: str | None, group: str) -> subprocess.Popen:
    """Start `custodes worker`; return once its shared subscription is granted. Its log goes to a
    file next to the database (read on failure), so a full pipe can never stall it."""
    env = {**os.environ, "CUSTODES_DATABASE_URL": settings.database_url, "CUSTODES_HOME": str(settings.home)}
    env.pop("CUSTODES_FAULT_AT", None)
    env["CUSTODES_MQTT_GROUP"] = group  # a group of our own: no other run's sessions take a share
    if fault:
        env["CUSTODES_FAULT_AT"] = fault
    exe = os.path.join(os.path.dirname(sys.executable), "custodes")
    log = settings.home / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = log.stat().st_size if log.exists() else 0
    with open(log, "a") as out:
        proc = subprocess.Popen([exe, "worker", "--name", name], env=env, stderr=out, stdout=out)
    deadline = time.monotonic() + 30
    while "subscription ready" not in log.read_text()[start:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"worker did not subscribe:\n{log.read_text()[start:]}")
        time.sleep(0.1)
    return proc


def wait_exit(proc: subprocess.Popen, timeout: float = 30) -> int:
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


def counts(c):
    with c.uow(Actor.system("test")) as uow:
        s = uow.session
        return {
            "stored": s.scalar(select(func.count()).select_from(TelemetryBatch)),
            "processed": s.scalar(select(func.count()).select_from(TelemetryBatch)
                                  .where(TelemetryBatch.processed_at.is_not(None))),
            "trail_fixes": s.scalar(select(func.coalesce(func.sum(TrailSegment.n), 0))),
            "alerts": sorted(s.scalars(select(Alert.kind))),
            "notices": s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.topic == "alert.raised")),
        }


def test_killed_workers_lose_nothing_and_duplicate_nothing(live, settings, agencies):
    now = live.clock.now()
    person = enrol(live, agencies["home_office"], home=HOME, since=now - timedelta(days=2),
                   until=now + timedelta(days=30), exclusions=[EXCLUSION], curfew=None)
    dev = person.client
    name, group = f"test-worker-{uuid.uuid4().hex[:6]}", f"test-{uuid.uuid4().hex[:6]}"
    # 1st worker dies right after committing the 2nd message, before acknowledging it to the broker.
    proc = start_worker(settings, name, "stored:2", group)
    pub = connect(live, f"test-device-{uuid.uuid4().hex[:6]}")
    pub.loop_start()
    t0 = now - timedelta(hours=2)
    for seq in range(BATCHES):
        start = t0 + timedelta(minutes=15 * seq)
        where = INSIDE_EXCLUSION if seq == 3 else HOME
        items = [fix(start + timedelta(seconds=10 * i), *where, 6.0) for i in range(PER_BATCH)]
        body = encode(seq, items)
        info = pub.publish(dev.topic, body, qos=1, properties=dev.mqtt_properties(body, live.clock.now()))
        info.wait_for_publish(5)
        assert info.is_published()
    pub.loop_stop()
    pub.disconnect()
    assert wait_exit(proc) == 137
    # 2nd worker (same client id: the broker redelivers the unacknowledged message) dies inside the
    # pipeline, after rule evaluation of a batch and before its transaction commits.
    proc = start_worker(settings, name, "rules:2", group)
    assert wait_exit(proc) == 137
    partial = counts(live)
    # 3rd worker runs clean until everything is processed.
    proc = start_worker(settings, name, None, group)
    try:
        deadline = time.monotonic() + 40
        while counts(live)["processed"] < BATCHES and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        proc.terminate()
        wait_exit(proc)
        forget_session(live, name)
    final = counts(live)
    assert partial["processed"] < BATCHES  # the crash really happened mid-way
    assert final == {"stored": BATCHES, "processed": BATCHES, "trail_fixes": BATCHES * PER_BATCH,
                     "alerts": ["exclusion_zone_entered", "inclusion_zone_exited"], "notices": 2}, final


def test_mqtt_refuses_forged_and_foreign_messages(live, agencies):
    from custodes.errors import Forbidden, Unauthorized
    from custodes.telemetry.mqtt import verify_message

    now = live.clock.now()
    a = enrol(live, agencies["home_office"], home=HOME, since=now - timedelta(days=1), until=now + timedelta(days=9))
    b = enrol(live, agencies["home_office"], home=HOME, since=now - timedelta(days=1), until=now + timedelta(days=9))
    body = encode(1, [fix(now, *HOME, 5.0)])

    def headers(props):
        return dict(props.UserProperty)

    good = headers(a.client.mqtt_properties(body, now))
    assert verify_message(live, a.client.topic, good, body) == a.device_id
    with pytest.raises(Unauthorized):  # signed for a's topic, published on b's
        verify_message(live, b.client.topic, good, body)
    with pytest.raises(Forbidden):  # a's own valid signature over b's topic
        verify_message(live, b.client.topic, headers(a.client.mqtt_properties(body, now, topic=b.client.topic)), body)
    with pytest.raises(Unauthorized):  # tampered body
        verify_message(live, a.client.topic, good, body.replace(b'"seq":1', b'"seq":2'))
