"""Telemetry over MQTT: devices publish the same signed batches; workers share one subscription.

A device publishes to `custodes/devices/{device_id}/telemetry` at QoS 1 with the HTTP signing headers
as MQTT v5 user properties (method `PUBLISH`, path = the topic), so the signature binds the body to
that device's topic. A worker acknowledges a message only after its raw batch is committed; if the
worker dies first the broker redelivers it, and the redelivery is harmless (idempotent by device and
sequence). For that reason a redelivered nonce is not a replay here, and the timestamp may be older
than five minutes (the broker may have held it while no worker ran): up to `MQTT_MAX_AGE`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from datetime import timedelta

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from custodes.bootstrap import Container
from custodes.devices.signing import MAX_SKEW, authenticate, read_signed_parts
from custodes.errors import TYPE_BASE, DomainError, Forbidden, Unauthorized

log = logging.getLogger(__name__)
TELEMETRY_FILTER = "custodes/devices/+/telemetry"
OWNTRACKS_FILTER = "owntracks/+/+"  # the OwnTracks app publishes on owntracks/{user}/{device}


def shared_subscription(group: str, topic_filter: str = TELEMETRY_FILTER) -> str:
    """Workers of one deployment share a group (settings.mqtt_group, env CUSTODES_MQTT_GROUP).

    The broker also hands a share of the messages to *offline* members with a persistent session,
    so a worker name that is retired for good must be forgotten (`forget_session`)."""
    return f"$share/{group}/{topic_filter}"
MQTT_MAX_AGE = timedelta(hours=24)
SESSION_EXPIRY_S = 24 * 3600


def connect(container: Container, client_id: str, *, manual_ack: bool = False, persistent: bool = False) -> paho.Client:
    """A connected client. A persistent session outlives a crash: when the worker comes back under
    the same client id, the broker redelivers whatever it had not acknowledged."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=manual_ack)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S if persistent else 0
    c.connect(container.settings.mqtt_host, container.settings.mqtt_port, keepalive=30,
              clean_start=not persistent, properties=props)
    return c


def forget_session(container: Container, client_id: str) -> None:
    """Drop a retired worker's persistent session (and the messages queued for it) at the broker."""
    c = connect(container, client_id, persistent=False)
    c.disconnect()


def device_from_topic(topic: str) -> uuid.UUID:
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["custodes", "devices"] or parts[3] != "telemetry":
        raise Forbidden(f"not a telemetry topic: {topic}")
    try:
        return uuid.UUID(parts[2])
    except ValueError:
        raise Forbidden("topic names no device") from None


def verify_message(container: Container, topic: str, headers: dict[str, str], body: bytes) -> uuid.UUID:
    """The device that signed this message, which must be the device named in the topic."""
    parts = read_signed_parts(headers, "MQTT telemetry needs the signing headers as user properties")
    now = container.clock.now().timestamp()
    # Older than HTTP's window on purpose: QoS 1 redelivers stored messages; storing is idempotent.
    if parts.timestamp > now + MAX_SKEW.total_seconds() or parts.timestamp < now - MQTT_MAX_AGE.total_seconds():
        raise Unauthorized("message timestamp outside the accepted window")
    authenticate(container, parts, method="PUBLISH", path=topic, body=body)
    if device_from_topic(topic) != parts.device_id:
        raise Forbidden("a device may publish only for itself")
    return parts.device_id


class TelemetrySubscriber:
    """Receives telemetry on the shared subscriptions and hands each message to `store`.

    paho's network thread only queues messages; `STORERS` storing threads commit them (their uploads
    share the group commits of `telemetry.intake`) and the PUBACKs go out in the order the messages
    came, each once it and every message before it is stored, so the broker keeps anything not yet
    stored. A topic (one device) always goes to the same storing thread: a device's messages are
    stored in the order they arrived. A message refused for good (a 4xx
    `DomainError`) is acknowledged and dropped, and the refusal goes back to the device on the
    message's MQTT 5 response topic (with its correlation data), so the device is told, not only the log.
    """

    FILTERS = (TELEMETRY_FILTER, OWNTRACKS_FILTER)
    STORERS = 16

    def __init__(self, container: Container, store: Callable[[str, dict[str, str], bytes], None],
                 client_id: str) -> None:
        self.container = container
        self.store = store
        self.client_id = client_id
        self._queues: list[queue.Queue] = [queue.Queue(maxsize=1000) for _ in range(self.STORERS)]
        self._unacked: deque[list] = deque()  # [mid, qos, stored] in the order received
        self._ack_lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once the broker granted every subscription
        self.client = connect(container, client_id, manual_ack=True, persistent=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, _userdata, _flags, reason, _props) -> None:
        if not reason.is_failure:
            group = self.container.settings.mqtt_group
            client.subscribe([(shared_subscription(group, f), 1) for f in self.FILTERS])

    def _on_subscribe(self, _client, _userdata, _mid, reasons, _props) -> None:
        if all(not r.is_failure for r in reasons):
            self.ready.set()
            group = self.container.settings.mqtt_group
            log.info("subscription ready: %s as %s", ", ".join(shared_subscription(group, f) for f in self.FILTERS),
                     self.client_id)
        else:
            log.error("subscription refused: %s", reasons)

    def _on_message(self, _client, _userdata, msg) -> None:
        entry = [msg.mid, msg.qos, False]
        with self._ack_lock:
            self._unacked.append(entry)
        self._queues[zlib.crc32(msg.topic.encode()) % self.STORERS].put((msg, entry))

    def _stored(self, entry: list) -> None:
        with self._ack_lock:
            entry[2] = True
            while self._unacked and self._unacked[0][2]:
                mid, qos, _ = self._unacked.popleft()
                self.client.ack(mid, qos)

    def start(self) -> None:
        self.client.loop_start()
        for i, q in enumerate(self._queues):
            threading.Thread(target=self._run, args=(q,), name=f"mqtt-store-{i}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.client.loop_stop()
        self.client.disconnect()

    def _run(self, inbox: queue.Queue) -> None:
        while not self._stop.is_set():
            try:
                msg, entry = inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            props = getattr(msg, "properties", None)
            headers = dict(getattr(props, "UserProperty", None) or [])
            if getattr(props, "ContentType", None):
                headers["content-type"] = props.ContentType
            delay = 0.2
            while not self._stop.is_set():
                try:
                    self.store(msg.topic, headers, msg.payload)
                    break
                except DomainError as exc:  # refused for good: acknowledge, drop, and tell the device
                    log.warning("refused MQTT telemetry on %s: %s", msg.topic, exc.detail)
                    self._reply(props, exc)
                    break
                except Exception:  # the database is away: keep the message, try again
                    log.exception("storing MQTT telemetry failed; retrying")
                    time.sleep(delay)
                    delay = min(delay * 2, 10)
            else:
                return  # stopping: not acknowledged, the broker redelivers it to someone else
            self._stored(entry)

    def _reply(self, props, exc: DomainError) -> None:
        topic = getattr(props, "ResponseTopic", None)
        if not topic:
            return
        reply = Properties(PacketTypes.PUBLISH)
        reply.ContentType = "application/problem+json"
        if getattr(props, "CorrelationData", None):
            reply.CorrelationData = props.CorrelationData
        body = {"type": TYPE_BASE + exc.kind, "title": exc.title, "status": exc.status, "detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        self.client.publish(topic, json.dumps(body), qos=1, properties=reply)
