"""One process of a reconnect storm: many tags' MQTT connections driven by one thread (paho's
external-loop calls over a selector), all connecting at a given wall-clock instant, each publishing
its buffered batch at QoS 1 once connected. Run as `python storm_clients.py IN.json OUT.json`.

IN holds host, port, start (epoch seconds) and tags [[device_id, secret, body], ...]; OUT gets the
device ids whose batch the broker acknowledged (PUBACK) and the counts of what went wrong.
"""

from __future__ import annotations

import json
import resource
import selectors
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from custodes.lab.device_client import DeviceClient


def main(src: str, dst: str) -> None:
    spec = json.loads(open(src).read())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, len(spec["tags"]) + 256)), hard))
    acked: list[str] = []
    problems: Counter[str] = Counter()
    sel = selectors.DefaultSelector()
    clients: list[paho.Client] = []

    def on_connect(client, tag, _flags, reason, _props) -> None:
        if reason.is_failure:
            problems[f"connack {reason}"] += 1
            return
        dev, body = tag
        client.publish(dev.topic, body, qos=1, properties=dev.mqtt_properties(body, datetime.now(UTC)))

    def on_publish(_client, tag, _mid, reason, _props) -> None:
        if reason.is_failure:
            problems[f"puback {reason}"] += 1
        else:
            acked.append(tag[0].device_id)

    for device_id, secret, body in spec["tags"]:
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"storm-{device_id}", protocol=paho.MQTTv5,
                        userdata=(DeviceClient(device_id, secret), body.encode()))
        c.on_connect, c.on_publish = on_connect, on_publish
        clients.append(c)
    time.sleep(max(0.0, spec["start"] - time.time()))
    t0 = time.time()
    for c in clients:  # all at once: one TCP connect after another, as fast as the broker accepts
        for attempt in range(5):
            try:
                c.connect(spec["host"], spec["port"], keepalive=120)
                sel.register(c.socket(), selectors.EVENT_READ, c)
                break
            except OSError as exc:
                problems[f"connect {type(exc).__name__}"] += 1
                time.sleep(0.2 * (attempt + 1))
    connected_s = time.time() - t0
    deadline = time.time() + spec.get("bound_s", 60)
    last_misc = 0.0
    while len(acked) + sum(problems.values()) < len(clients) and time.time() < deadline:
        for c in clients:
            if c.want_write():
                c.loop_write()
        for key, _ in sel.select(timeout=0.05):
            if key.data.loop_read() != paho.MQTT_ERR_SUCCESS:
                sel.unregister(key.fileobj)
        if time.time() - last_misc > 1:
            for c in clients:
                c.loop_misc()
            last_misc = time.time()
    done_s = time.time() - t0
    for c in clients:
        try:
            c.disconnect()
            c.loop_write()
        except Exception:  # a socket already gone: nothing to say goodbye on
            pass
    json.dump({"acked": acked, "problems": dict(problems), "connect_s": round(connected_s, 2),
               "all_acked_s": round(done_s, 2)}, open(dst, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
