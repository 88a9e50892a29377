"""OwnTracks: HTTP mode with the device's Basic credentials, MQTT on owntracks/{user}/{device}
through the real broker, and encrypted payloads (libsodium secretbox) — each giving the same trail
as the same positions through the native signed API. Also: a refused MQTT batch is answered on its
MQTT 5 response topic."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from datetime import UTC, datetime

import nacl.secret
import nacl.utils
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from custodes.lab.device_client import encode, fix
from custodes.runner import Runner
from custodes.telemetry.mqtt import forget_session

from .conftest import trail_of

# Real location messages, as in Traccar's OwnTracksProtocolDecoderTest and the OwnTracks booklet.
MESSAGES = [
    ({"_type": "location", "acc": 15, "alt": 440, "batt": 46, "conn": "w", "lat": 46.0681247, "lon": 11.1512805,
      "t": "u", "tid": "5t", "tst": 1551874878, "vac": 2, "vel": 0},
     (datetime(2019, 3, 6, 12, 21, 18, tzinfo=UTC), 46.0681247, 11.1512805, 15.0, 0.0)),
    ({"lon": 2.29513, "lat": 48.85833, "tst": 1497349316, "_type": "location", "tid": "JJ"},
     (datetime(2017, 6, 13, 10, 21, 56, tzinfo=UTC), 48.85833, 2.29513, 1000.0, None)),
    ({"cog": 271, "lon": 2.29513, "acc": 5, "vel": 61, "vac": 21, "lat": 48.85833, "tst": 1497349316.5,
      "alt": 167, "_type": "location", "tid": "JJ", "t": "u", "batt": 80, "bs": 2},
     (datetime(2017, 6, 13, 10, 21, 56, 500000, tzinfo=UTC), 48.85833, 2.29513, 5.0, 61 / 3.6)),
]


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def enable(client, officer, phone, **extra) -> dict:
    r = client.put(f"/v1/devices/{phone.device_id}/adapter", json={"protocol": "owntracks", **extra},
                   headers=officer("caseworker"))
    assert r.status_code == 200, r.text
    return r.json()


def native(client, clock, tag, expected) -> None:
    for seq, (at, lat, lon, acc, speed) in enumerate(expected):
        body = encode(seq, [fix(at, lat, lon, acc, speed_mps=speed)])
        assert client.post(tag.client.path, content=body,
                           headers=tag.client.http_headers(body, clock.now())).status_code == 202


def seal(key: str, message: dict) -> dict:
    """What the app does: secretbox with the key's bytes zero-padded to 32, nonce prepended, base64."""
    box = nacl.secret.SecretBox(key.encode()[:32].ljust(32, b"\0"))
    data = box.encrypt(json.dumps(message).encode(), nacl.utils.random(24))
    return {"_type": "encrypted", "data": base64.b64encode(bytes(data)).decode()}


def test_http_mode_gives_the_same_trail_as_the_native_api(client, clock, container, officer, phone, tag):
    creds = enable(client, officer, phone)
    for message, _ in MESSAGES + [({"_type": "transition", "event": "leave", "tst": 1497349316}, None)]:
        r = client.post("/v1/adapters/owntracks", json=message, headers=basic(creds["username"], creds["password"]))
        assert r.status_code == 200 and r.json() == [], r.text
    native(client, clock, tag, [e for _, e in MESSAGES])
    assert trail_of(container, phone.subject_id) == trail_of(container, tag.subject_id)


def test_wrong_or_missing_credentials_store_nothing(client, officer, phone, rows):
    creds = enable(client, officer, phone)
    msg = MESSAGES[0][0]
    assert client.post("/v1/adapters/owntracks", json=msg).status_code == 401
    assert client.post("/v1/adapters/owntracks", json=msg,
                       headers=basic(creds["username"], "guess")).status_code == 401
    assert client.post("/v1/adapters/owntracks", json=msg, headers=basic("ot-nobody", "x")).status_code == 401
    assert rows("telemetry_batches") == 0


def test_encrypted_payloads_are_decrypted_and_plain_ones_refused(client, clock, container, officer, phone, tag, rows):
    creds = enable(client, officer, phone, encrypted=True)
    auth = basic(creds["username"], creds["password"])
    for message, _ in MESSAGES:
        r = client.post("/v1/adapters/owntracks", json=seal(creds["encryption_key"], message), headers=auth)
        assert r.status_code == 200, r.text
    native(client, clock, tag, [e for _, e in MESSAGES])
    assert trail_of(container, phone.subject_id) == trail_of(container, tag.subject_id)
    stored = rows("telemetry_batches")
    assert client.post("/v1/adapters/owntracks", json=MESSAGES[0][0], headers=auth).status_code == 422
    wrong = seal("another key entirely", MESSAGES[0][0])
    assert client.post("/v1/adapters/owntracks", json=wrong, headers=auth).status_code == 422
    assert rows("telemetry_batches") == stored


@pytest.fixture
def runner(container):
    # A group of our own, so no other run's worker takes a share of these messages.
    container.settings = container.settings.model_copy(update={"mqtt_group": f"adapters-{secrets.token_hex(4)}"})
    name = f"adapters-test-{secrets.token_hex(4)}"
    r = Runner(container, mqtt=True, name=name, tick_s=0, notify=False)
    r.start()
    assert r.subscriber.ready.wait(10), "the broker did not grant the subscriptions"
    yield r
    r.stop()
    forget_session(container, name)


def publish(topic: str, payload: bytes, properties: Properties | None = None) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}", protocol=paho.MQTTv5)
    c.connect("127.0.0.1", 1883)
    c.loop_start()
    c.publish(topic, payload, qos=1, properties=properties).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_mqtt_mode_gives_the_same_trail(client, clock, container, officer, phone, tag, rows, runner):
    creds = enable(client, officer, phone)
    for message, _ in MESSAGES:
        publish(f"owntracks/{creds['username']}/phone", json.dumps(message).encode())
    wait_for(lambda: rows("telemetry_batches") == len(MESSAGES))
    native(client, clock, tag, [e for _, e in MESSAGES])
    # The runner's own pipeline may hold a device's batches mid-turn when the test drains: wait
    # until both trails are whole before comparing them.
    wait_for(lambda: len(trail_of(container, tag.subject_id)) == len(MESSAGES)
             and len(trail_of(container, phone.subject_id)) == len(MESSAGES))
    assert trail_of(container, phone.subject_id) == trail_of(container, tag.subject_id)


def test_a_refused_mqtt_batch_is_answered_on_the_response_topic(clock, container, tag, rows, runner):
    answers: list[tuple[bytes, bytes | None]] = []
    got = threading.Event()
    reply_topic = f"replies/{secrets.token_hex(6)}"
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{secrets.token_hex(4)}", protocol=paho.MQTTv5)

    def on_message(_c, _u, msg):
        # Another platform sharing this broker (a parallel test run's workers, in their own share
        # group) may answer too, with "unknown device": ours is the one that knows the device.
        answer = (msg.payload, getattr(msg.properties, "CorrelationData", None))
        if json.loads(msg.payload).get("status") != 401:
            answers.append(answer)
            got.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(reply_topic, qos=1)
    sub.loop_start()
    time.sleep(0.3)
    body = b'{"v": 1, "seq": 1, "items": "not a list"}'
    props = tag.client.mqtt_properties(body, clock.now())
    props.ResponseTopic = reply_topic
    props.CorrelationData = b"batch-1"
    publish(tag.client.topic, body, props)
    assert got.wait(15), "no answer on the response topic"
    sub.loop_stop()
    sub.disconnect()
    problem = json.loads(answers[0][0])
    assert problem["status"] == 422 and problem["type"].endswith("validation-error")
    assert answers[0][1] == b"batch-1"
    assert rows("telemetry_batches") == 0
