"""Fault: Mosquitto stops and comes back under load. Devices' QoS 1 messages refused while it is gone are
sent again from the device's buffer once its client has reconnected (the worker's persistent session
redelivering what it had not acknowledged is tests/telemetry/test_worker_crash.py); alerts raised meanwhile (from HTTP uploads) wait in the outbox and their
notifications go out after, once each; the worker reconnects by itself; nothing accepted is lost."""

from __future__ import annotations

import time
from datetime import timedelta

import paho.mqtt.client as paho
from sqlalchemy import select

from custodes.actor import Actor
from custodes.lab.field.platform import MqttSender, Platform
from custodes.outbox.models import OutboxMessage

from .load import BREACH_SEQ, PER_BATCH, assert_nothing_lost_or_twice, batch, population, wait_processed

DEVICES, BATCHES = 4, 6


def deliveries(container) -> list[tuple[str, bool]]:
    with container.uow(Actor.system("test")) as uow:
        rows = uow.session.execute(select(OutboxMessage.payload, OutboxMessage.delivered_at)
                                   .where(OutboxMessage.topic == "notify.mqtt")).all()
    return [(p["message_id"], at is not None) for p, at in rows]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


def test_mosquitto_restart_delivers_queued_messages_and_notifications(pg, container, broker, api, workers,
                                                                      agencies):
    devices = population(container, agencies["home_office"], DEVICES)
    t0 = container.clock.now() - timedelta(hours=3)
    workers.start("mqtt-restart-worker")
    sender = MqttSender("127.0.0.1", broker.port)
    sender.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
    http = Platform(api.url, "nobody", "nothing", timeout=10)
    accepted: dict = {}
    try:
        # Before the outage: the first batches over MQTT, acknowledged and processed.
        for seq in range(BREACH_SEQ):
            for p in devices:
                sender.upload(p.client, batch(seq, t0), container.clock.now())
                accepted[(p.device_id, seq)] = PER_BATCH
        wait_processed(container, DEVICES * BREACH_SEQ, timeout=60)

        log = workers.log("mqtt-restart-worker")
        offset = log.stat().st_size
        broker.stop()
        # While the broker is gone: the breach arrives over HTTP (alerts are raised, their
        # notifications cannot go out), and later batches are published into the device's queue.
        for p in devices:
            r = http.upload(p.client, batch(BREACH_SEQ, t0), container.clock.now())
            assert r.status_code == 202, r.text
            accepted[(p.device_id, BREACH_SEQ)] = r.json()["accepted"]
        later = [(p, seq) for seq in range(BREACH_SEQ + 1, BATCHES) for p in devices]
        pending = [sender.client.publish(p.client.topic, body := batch(seq, t0), qos=1,
                                         properties=p.client.mqtt_properties(body, container.clock.now()))
                   for p, seq in later]
        wait_until(lambda: len(deliveries(container)) >= 2 * DEVICES, 60, "the breach's notifications queued")
        assert not any(sent for _, sent in deliveries(container)), "a notification went out with no broker"
        assert {info.rc for info in pending} == {paho.MQTT_ERR_NO_CONN}, "the device was never cut off"

        broker.start()
        # The worker reconnects and subscribes again by itself. Only then do the tags resend: a
        # message that Mosquitto acknowledges while no member of the workers' shared subscription
        # is connected is dropped, not queued (seen in a CI run of this test; docs/deployment.md).
        # Closing that gap needs an acknowledgement from the platform after storage, not built yet.
        workers.wait_log("mqtt-restart-worker", "subscription ready", offset=offset, timeout=60)
        # A tag keeps its buffer until the broker acknowledges it (QoS 1): it sends it again once
        # its client has reconnected by itself.
        wait_until(sender.client.is_connected, 30, "the device's client reconnected")
        for p, seq in later:
            sender.upload(p.client, batch(seq, t0), container.clock.now())
            accepted[(p.device_id, seq)] = PER_BATCH
        state = wait_processed(container, DEVICES * BATCHES, timeout=60)
        wait_until(lambda: all(sent for _, sent in deliveries(container)), 60, "queued notifications sent")
    finally:
        sender.close()
        http.http.close()

    print(f"mosquitto restart: {len(accepted)} batches accepted, {state['trail_fixes']} fixes in the trail, "
          f"{len(deliveries(container))} notifications sent after the broker came back")
    assert_nothing_lost_or_twice(state, accepted, devices, BATCHES)
