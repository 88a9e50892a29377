"""OwnTracks messages: `_type: location` JSON (`lat`, `lon`, `tst`, `acc`, `vel`, `batt`, `bs`, ...) over
HTTP or MQTT, and `_type: encrypted` payloads (libsodium secretbox, as the app encrypts them). Pure
decoding into native batch items; other message types (transition, waypoint, lwt, card) carry no
position and are acknowledged without storing anything.

Units from the OwnTracks booklet: `tst` in epoch seconds, `acc` in metres, `vel` in km/h, `batt` in
percent, `bs` battery status (0 unknown, 1 unplugged, 2 charging, 3 full).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import nacl.exceptions
import nacl.secret

from custodes.adapters.decoding import AdapterInputError, fix, from_epoch, number, parse_json, status

CHARGING = (2, 3)


def decrypt(key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The inner message of `{"_type": "encrypted", "data": base64(nonce + ciphertext)}`. The app
    copies the key's UTF-8 bytes into a zero-padded 32-byte buffer, so the same is done here."""
    raw_key = key.encode()[: nacl.secret.SecretBox.KEY_SIZE].ljust(nacl.secret.SecretBox.KEY_SIZE, b"\0")
    try:
        data = base64.b64decode(str(payload.get("data", "")), validate=True)
        inner = nacl.secret.SecretBox(raw_key).decrypt(data)
    except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
        raise AdapterInputError("data: cannot be decrypted with this device's key") from None
    return parse_json(inner)


def decode(message: Mapping[str, Any], *, received_at: datetime) -> list[dict[str, Any]]:
    """Native items from one OwnTracks message (empty for message types without a position)."""
    if message.get("_type") != "location":
        return []
    for key in ("lat", "lon", "tst"):
        if message.get(key) is None:
            raise AdapterInputError(f"{key}: required in a location message")
    at = from_epoch(number(message["tst"], "tst"))
    acc = number(message["acc"], "acc") if message.get("acc") is not None else None
    vel = number(message["vel"], "vel") if message.get("vel") is not None else None
    items = [fix(at, number(message["lat"], "lat"), number(message["lon"], "lon"),
                 acc if acc is None or acc >= 0 else None, None if vel is None or vel < 0 else vel / 3.6)]
    if message.get("batt") is not None:
        bs = message.get("bs")
        items.append(status(at, number(message["batt"], "batt"), bs in CHARGING))
    return items
