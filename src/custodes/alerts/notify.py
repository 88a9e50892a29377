"""Alert notifications: officers of every agency that can see the subject hear of each alert.

Two steps, both driven by the transactional outbox. `fan_out` turns each `alert.*` message into
one delivery per (agency, channel) in a single transaction; `deliver` sends them: an HMAC-signed
webhook to the agency's endpoint and an MQTT message on `custodes/alerts/{agency_id}`. A failed
delivery is retried with exponential backoff, and one whose sender died is sent again after its
lease: delivery is at least once, and each delivery's `message_id` is fixed by the alert, agency and
channel (`delivery_id`), so receivers deduplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select

from custodes.actor import Actor, Role
from custodes.access.models import User
from custodes.alerts.service import TOPIC_CHANGED, TOPIC_RAISED
from custodes.bootstrap import Container
from custodes.outbox.models import OutboxMessage
from custodes.subjects.models import Subject, SubjectShare

WEBHOOK, MQTT = "notify.webhook", "notify.mqtt"
ALERT_TOPICS = (TOPIC_RAISED, TOPIC_CHANGED)
NOTIFIED_ROLES = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION)
SIGNATURE_HEADER = "X-Custodes-Signature"
LEASE = timedelta(seconds=60)  # a claimed delivery is retried by anyone after this if its sender died
MAX_BACKOFF = timedelta(hours=1)


def mqtt_topic(agency_id: str) -> str:
    return f"custodes/alerts/{agency_id}"


def sign_webhook(key: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class Sender(Protocol):
    def webhook(self, url: str, body: bytes, headers: dict[str, str]) -> None: ...
    def mqtt(self, topic: str, body: bytes) -> None: ...


@dataclass
class NotifyConfig:
    webhook_url: str | None  # a template with {agency_id}; None: MQTT only
    webhook_key: bytes

    @classmethod
    def from_container(cls, container: Container) -> NotifyConfig:
        from custodes.keys import load_secret

        url = container.settings.extra.get("alert_webhook_url") or container.settings.alert_webhook_url
        return cls(webhook_url=url or None, webhook_key=load_secret("webhook", container.settings.key_dir))


def _agencies(session, subject_id: uuid.UUID) -> list[uuid.UUID]:
    owner = session.scalar(select(Subject.agency_id).where(Subject.id == subject_id))
    shared = session.scalars(select(SubjectShare.agency_id).where(SubjectShare.subject_id == subject_id)).all()
    return [a for a in dict.fromkeys([owner, *shared]) if a is not None]


def fan_out(container: Container, config: NotifyConfig, limit: int = 200) -> int:
    with container.uow(Actor.system("notify")) as uow:
        s = uow.session
        msgs = s.scalars(select(OutboxMessage).where(OutboxMessage.topic.in_(ALERT_TOPICS),
                                                     OutboxMessage.delivered_at.is_(None))
                         .order_by(OutboxMessage.created_at).limit(limit).with_for_update(skip_locked=True)).all()
        now = container.clock.now()
        for m in msgs:
            for agency in _agencies(s, uuid.UUID(m.payload["subject_id"])):
                officers = s.scalars(select(User.username).where(
                    User.agency_id == agency, User.active.is_(True), User.role.in_([str(r) for r in NOTIFIED_ROLES]))
                ).all()
                body = {**m.payload, "event": m.topic, "agency_id": str(agency), "recipients": sorted(officers)}
                _delivery(s, m, agency, MQTT, now, {**body, "topic": mqtt_topic(str(agency))})
                if config.webhook_url:
                    _delivery(s, m, agency, WEBHOOK, now, {**body, "url": config.webhook_url.format(agency_id=agency)})
            m.delivered_at = now
        uow.commit()
        return len(msgs)


def delivery_id(source_id: uuid.UUID, agency_id: uuid.UUID, channel: str) -> uuid.UUID:
    """The idempotency key of one notification: the same alert message, agency and channel always
    give the same id, so a delivery can exist once only (it is the row's key) and a receiver that
    keeps the `message_id`s it has seen drops every resend (sends are at least once)."""
    return uuid.uuid5(source_id, f"{agency_id}/{channel}")


def _delivery(s, source: OutboxMessage, agency_id: uuid.UUID, channel: str, now: datetime,
              payload: dict[str, Any]) -> None:
    mid = delivery_id(source.id, agency_id, channel)
    if s.get(OutboxMessage, mid) is None:
        s.add(OutboxMessage(id=mid, topic=channel, payload={**payload, "message_id": str(mid)}, created_at=now))


def deliver(container: Container, config: NotifyConfig, sender: Sender, limit: int = 100) -> int:
    """Send due deliveries; returns how many succeeded. Sends happen outside any transaction."""
    now = container.clock.now()
    # While the broker is away, MQTT deliveries are not tried at all: a failed try would count as an
    # attempt and push the next one back (up to MAX_BACKOFF), delaying every alert queued during an
    # outage long after the broker is back.
    topics = (WEBHOOK, MQTT) if getattr(sender, "mqtt_ready", lambda: True)() else (WEBHOOK,)
    with container.uow(Actor.system("notify")) as uow:
        due = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic.in_(topics), OutboxMessage.delivered_at.is_(None),
                                        or_(OutboxMessage.next_attempt_at.is_(None),
                                            OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.created_at).limit(limit).with_for_update(skip_locked=True)).all()
        claimed = [(m.id, m.topic, dict(m.payload), m.attempts) for m in due]
        for m in due:  # lease them so another drainer does not send them at the same time
            m.next_attempt_at = now + LEASE
        uow.commit()
    results: list[tuple[uuid.UUID, int, str | None]] = []
    for mid, topic, payload, attempts in claimed:
        results.append((mid, attempts, _send(config, sender, topic, payload, now)))
    if results:
        _record(container, results)
    return sum(1 for *_, err in results if err is None)


def _send(config: NotifyConfig, sender: Sender, topic: str, payload: dict[str, Any], now: datetime) -> str | None:
    body = json.dumps({k: v for k, v in payload.items() if k not in ("url", "topic")}, sort_keys=True).encode()
    try:
        if topic == MQTT:
            sender.mqtt(payload["topic"], body)
        else:
            ts = int(now.timestamp())
            sender.webhook(payload["url"], body, {SIGNATURE_HEADER: sign_webhook(config.webhook_key, body, ts),
                                                  "Content-Type": "application/json",
                                                  "X-Custodes-Message-Id": payload["message_id"]})
        return None
    except Exception as exc:  # any failure is retried later; the reason is kept for operators
        return f"{type(exc).__name__}: {exc}"[:500]


def _record(container: Container, results: list[tuple[uuid.UUID, int, str | None]]) -> None:
    now = container.clock.now()
    with container.uow(Actor.system("notify")) as uow:
        for mid, attempts, err in results:
            m = uow.session.get(OutboxMessage, mid)
            if m is None:
                continue
            m.attempts = attempts + 1
            if err is None:
                m.delivered_at, m.last_error = now, None
            else:
                m.last_error, m.next_attempt_at = err, now + backoff(m.attempts)
        uow.commit()


class LiveSender:
    """Real transports: httpx for webhooks, a connected paho client for MQTT (QoS 1)."""

    def __init__(self, mqtt_client=None, timeout: float = 5.0) -> None:
        import httpx

        self._http = httpx.Client(timeout=timeout)
        self.mqtt_client = mqtt_client  # may be connected later, when the broker comes back

    def webhook(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        self._http.post(url, content=body, headers=headers).raise_for_status()

    def mqtt_ready(self) -> bool:
        return self.mqtt_client is not None and self.mqtt_client.is_connected()

    def mqtt(self, topic: str, body: bytes) -> None:
        if not self.mqtt_ready():
            # Queued by paho now, it would also go out on reconnection, beside the outbox's own retry.
            raise RuntimeError("no MQTT connection")
        info = self.mqtt_client.publish(topic, body, qos=1)
        info.wait_for_publish(timeout=5)
        if not info.is_published():
            raise RuntimeError(f"MQTT publish to {topic} not acknowledged")

    def close(self) -> None:
        self._http.close()
        if self.mqtt_client is not None:
            self.mqtt_client.loop_stop()
            self.mqtt_client.disconnect()
