"""The simulator's view of a running platform: officer calls with sign-in renewed on expiry, signed
device calls over HTTP, and signed MQTT publishing. Only 127.0.0.1-style local targets are expected."""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from custodes.devices.signing import signed_headers
from custodes.lab.device_client import DeviceClient


class PlatformError(RuntimeError):
    """The platform refused a setup call; the text says which and why."""


class SimClock:
    """The platform's own (possibly accelerated) time, followed from one reading of /healthz."""

    def __init__(self, server_now: datetime, speed: float) -> None:
        self.speed = speed
        self._t0, self._m0 = server_now, time.monotonic()

    def now(self) -> datetime:
        return self._t0 + timedelta(seconds=(time.monotonic() - self._m0) * self.speed)

    def sleep_sim(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds / self.speed))


class Platform:
    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout,
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self._creds = {"username": username, "password": password}
        self._token: str | None = None
        self._lock = threading.Lock()

    def health(self) -> dict:
        try:
            r = self.http.get("/healthz")
        except httpx.HTTPError as exc:
            raise PlatformError(f"no platform at {self.url}: {exc}") from None
        r.raise_for_status()
        return r.json()

    def _sign_in(self) -> str:
        r = self.http.post("/v1/auth/token", data=self._creds)
        if r.status_code != 200:
            raise PlatformError(f"sign-in as {self._creds['username']} refused: {r.text[:200]}")
        return r.json()["access_token"]

    def officer(self, method: str, path: str, **kw) -> httpx.Response:
        for attempt in range(2):
            with self._lock:
                if self._token is None or attempt:
                    self._token = self._sign_in()
                token = self._token
            r = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
            if r.status_code != 401:
                return r
        return r

    def must(self, method: str, path: str, **kw) -> dict:
        r = self.officer(method, path, **kw)
        if r.status_code >= 300:
            raise PlatformError(f"{method} {path} answered {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else {}

    def upload(self, device: DeviceClient, body: bytes, now: datetime) -> httpx.Response:
        return self.http.post(device.path, content=body, headers=device.http_headers(body, now))

    def device_call(self, device_id: str, secret: str, method: str, suffix: str, now: datetime,
                    files: list[tuple[str, bytes]] | None = None) -> httpx.Response:
        path = f"/v1/devices/{device_id}/checkins{suffix}"
        body, kind = multipart(files) if files else (b"", None)
        headers = signed_headers(device_id, secret, method, path, body, now)
        if kind:
            headers["Content-Type"] = kind
        return self.http.request(method, path, content=body or None, headers=headers)

    def alerts(self, subject_id: str) -> list[dict]:
        items, offset = [], 0
        while True:
            page = self.must("GET", "/v1/alerts", params={"subject_id": subject_id, "limit": 200, "offset": offset})
            items += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return items


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"; filename=\"f.jpg\"\r\n"
                    f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n" for n, data in files)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class MqttSender:
    """Signed telemetry over MQTT (QoS 1), as the devices' own protocol sends it."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"custodes-sim-{secrets.token_hex(4)}",
                                  protocol=paho.MQTTv5)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def upload(self, device: DeviceClient, body: bytes, now: datetime) -> None:
        info = self.client.publish(device.topic, body, qos=1, properties=device.mqtt_properties(body, now))
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise RuntimeError("MQTT publish not acknowledged")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
