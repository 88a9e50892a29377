"""A device-side client: encodes batches, signs them as a device does, sends over HTTP or MQTT.

Used by the tests, the ingest benchmark and the demo's device simulator; real devices implement the
same few lines in firmware.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from custodes.devices.signing import signed_headers

TELEMETRY_PATH = "/v1/devices/{device_id}/telemetry"
MQTT_TOPIC = "custodes/devices/{device_id}/telemetry"


def fix(at: datetime, lat: float, lon: float, accuracy_m: float, source: str = "gps",
        speed_mps: float | None = None) -> dict:
    item = {"kind": "fix", "time": _iso(at), "lat": lat, "lon": lon, "accuracy_m": accuracy_m, "source": source}
    if speed_mps is not None:
        item["speed_mps"] = speed_mps
    return item


def status(at: datetime, battery_pct: float, strap: str = "closed", charging: bool = False,
           signal_dbm: int | None = None) -> dict:
    item = {"kind": "status", "time": _iso(at), "battery_pct": battery_pct, "strap": strap, "charging": charging}
    if signal_dbm is not None:
        item["signal_dbm"] = signal_dbm
    return item


def encode(seq: int, items: Iterable[dict]) -> bytes:
    return json.dumps({"v": 1, "seq": seq, "items": list(items)}, separators=(",", ":")).encode()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DeviceClient:
    """One device: its id and secret, signing each request with a fresh nonce."""

    def __init__(self, device_id: uuid.UUID | str, secret: str) -> None:
        self.device_id = str(device_id)
        self.secret = secret

    @property
    def path(self) -> str:
        return TELEMETRY_PATH.format(device_id=self.device_id)

    @property
    def topic(self) -> str:
        return MQTT_TOPIC.format(device_id=self.device_id)

    def http_headers(self, body: bytes, now: datetime, *, path: str | None = None, nonce: str | None = None,
                     content_type: str = "application/json") -> dict[str, str]:
        h = signed_headers(self.device_id, self.secret, "POST", path or self.path, body, now,
                           nonce or secrets.token_hex(16))
        return {**h, "Content-Type": content_type}

    def mqtt_properties(self, body: bytes, now: datetime, *, topic: str | None = None):
        """MQTT v5 user properties carrying the same signed headers (method PUBLISH, path = topic)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        h = signed_headers(self.device_id, self.secret, "PUBLISH", topic or self.topic, body, now)
        props.UserProperty = list(h.items())
        return props
