"""Alert notifications: per agency, signed webhook with retries and backoff, and MQTT for real."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import timedelta

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.notify import (
    MQTT,
    WEBHOOK,
    LiveSender,
    NotifyConfig,
    backoff,
    deliver,
    fan_out,
    mqtt_topic,
)
from custodes.lab.device_client import encode, fix, status
from custodes.outbox.models import OutboxMessage
from custodes.subjects.models import SubjectShare
from custodes.telemetry.mqtt import connect
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME


class FlakySender:
    """Each webhook message fails its first `fail_times` attempts."""

    def __init__(self, fail_times: int) -> None:
        self.fail_times = fail_times
        self.tries: dict[str, int] = {}
        self.webhooks: list[tuple[str, bytes, dict]] = []
        self.mqtt_sent: list[tuple[str, bytes]] = []

    def webhook(self, url, body, headers):
        mid = headers["X-Custodes-Message-Id"]
        self.tries[mid] = self.tries.get(mid, 0) + 1
        if self.tries[mid] <= self.fail_times:
            raise ConnectionError("endpoint down")
        self.webhooks.append((url, body, headers))

    def mqtt(self, topic, body):
        self.mqtt_sent.append((topic, body))


def _raise_battery_alert(client, clock, container, person):
    t = clock.now() - timedelta(minutes=1)
    body = encode(1, [fix(t, *HOME, 5.0), status(t, 2.0)])
    assert client.post(person.client.path, content=body,
                       headers=person.client.http_headers(body, clock.now())).status_code == 202
    assert Pipeline(container).run_once().alerts >= 1


def test_every_agency_of_the_subject_is_notified_with_retries(client, clock, container, person, agencies, officer):
    officer("caseworker")
    officer("probation", "probation")
    with container.uow(Actor.system("test")) as uow:  # probation shares the case
        uow.session.add(SubjectShare(id=uuid.uuid4(), subject_id=person.subject_id, agency_id=agencies["probation"],
                                     created_at=clock.now()))
        uow.commit()
    _raise_battery_alert(client, clock, container, person)
    config = NotifyConfig(webhook_url="https://hooks.example/{agency_id}", webhook_key=b"k" * 32)
    assert fan_out(container, config) >= 1
    sender = FlakySender(fail_times=2)
    deliver(container, config, sender)
    assert sender.webhooks == [] and len(sender.mqtt_sent) >= 2
    topics = {t for t, _ in sender.mqtt_sent}
    assert topics == {mqtt_topic(str(agencies["home_office"])), mqtt_topic(str(agencies["probation"]))}
    assert deliver(container, config, sender) == 0  # backing off: nothing is due yet
    clock.advance(backoff(1) + timedelta(seconds=1))
    deliver(container, config, sender)  # second failure
    clock.advance(backoff(2) + timedelta(seconds=1))
    deliver(container, config, sender)
    urls = [u for u, _, _ in sender.webhooks]
    assert len(urls) == len(sender.mqtt_sent) == len(sender.tries)  # each delivered once, after 3 tries
    assert {u.rsplit("/", 1)[1] for u in urls} == {str(agencies["home_office"]), str(agencies["probation"])}
    url, body, headers = sender.webhooks[0]
    ts, mac = (p.split("=", 1)[1] for p in headers["X-Custodes-Signature"].split(","))
    assert hmac.compare_digest(mac, hmac.new(b"k" * 32, f"{ts}.".encode() + body, hashlib.sha256).hexdigest())
    payload = json.loads(body)
    assert payload["subject_id"] == str(person.subject_id) and payload["recipients"]
    with container.uow(Actor.system("test")) as uow:
        left = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.topic.in_((WEBHOOK, MQTT)),
                                                               OutboxMessage.delivered_at.is_(None))).all()
        retried = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == WEBHOOK)).all()
    assert left == [] and max(m.attempts for m in retried) == 3


def test_alerts_reach_the_agency_topic_on_the_real_broker(client, clock, container, person, agencies):
    got: list[bytes] = []
    arrived = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:6]}", protocol=paho.MQTTv5)
    sub.on_message = lambda c, u, m: (got.append(m.payload), arrived.set())
    sub.connect(container.settings.mqtt_host, container.settings.mqtt_port)  # fails (not skips) without a broker
    sub.subscribe(mqtt_topic(str(agencies["home_office"])), qos=1)
    sub.loop_start()
    pub = connect(container, f"t-pub-{uuid.uuid4().hex[:6]}")
    pub.loop_start()
    try:
        _raise_battery_alert(client, clock, container, person)
        config = NotifyConfig(webhook_url=None, webhook_key=b"k" * 32)
        fan_out(container, config)
        assert deliver(container, config, LiveSender(pub)) >= 1
        assert arrived.wait(5), "no alert arrived on the agency topic"
        assert json.loads(got[0])["subject_id"] == str(person.subject_id)
    finally:
        for c in (sub, pub):
            c.loop_stop()
            c.disconnect()


def test_the_runner_keeps_one_http_client_for_notifications(container, monkeypatch):
    """Building an httpx.Client (TLS context included) every round cost 12-18 % of a worker's CPU."""
    import httpx

    from custodes.runner import Runner

    made = []
    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda *a, **kw: made.append(1) or real(*a, **kw))
    runner = Runner(container, mqtt=False, name="notify-once", tick_s=0)
    try:
        for _ in range(3):
            runner._notify_once()
    finally:
        runner.stop()
    assert len(made) == 1


class BrokerAway(FlakySender):
    """Its MQTT connection is down until `up` is set; webhooks work."""

    def __init__(self) -> None:
        super().__init__(fail_times=0)
        self.up = False

    def mqtt_ready(self) -> bool:
        return self.up

    def mqtt(self, topic, body):
        if not self.up:
            raise RuntimeError("no MQTT connection")
        super().mqtt(topic, body)


def test_mqtt_notifications_wait_out_a_broker_outage_without_backing_off(client, clock, container, person):
    _raise_battery_alert(client, clock, container, person)
    config = NotifyConfig(webhook_url=None, webhook_key=b"k" * 32)
    assert fan_out(container, config) >= 1
    sender = BrokerAway()
    for _ in range(5):  # the outage: every round finds the broker away
        assert deliver(container, config, sender) == 0
        clock.advance(timedelta(seconds=1))
    with container.uow(Actor.system("test")) as uow:
        queued = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == MQTT)).all()
        assert queued and all(m.attempts == 0 and m.next_attempt_at is None for m in queued)
    sender.up = True  # the broker is back: the very next round sends them, each once
    assert deliver(container, config, sender) == len(queued)
    assert len(sender.mqtt_sent) == len(queued)
    assert deliver(container, config, sender) == 0
