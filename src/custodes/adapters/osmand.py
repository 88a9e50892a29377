"""The OsmAnd protocol as Traccar Client speaks it: a query string (GET or form POST), or, from
Traccar Client 9 on, a JSON body `{"location": {...}, "device_id": ...}`. Pure decoding into native
batch items; the token that names the device is checked elsewhere.

Units follow Traccar's own decoder: query `speed` is in knots, JSON `coords.speed` in m/s; `batt` is a
percentage and JSON `battery.level` a fraction; a numeric `timestamp` below 2^31 is in seconds, above
in milliseconds; text timestamps are ISO 8601 or `yyyy-MM-dd HH:mm:ss` (taken as UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from custodes.adapters.decoding import AdapterInputError, fix, from_epoch, number, status

KNOT_MPS = 1852 / 3600
HDOP_UERE_M = 5.0  # metres of error per unit of HDOP: a common, conservative user range error


def token_from_query(params: Mapping[str, list[str]]) -> str | None:
    for key in ("id", "deviceid"):
        if params.get(key):
            return params[key][0]
    return None


def token_from_json(body: Mapping[str, Any]) -> str | None:
    value = body.get("device_id")
    return str(value) if value is not None else None


def decode_query(params: Mapping[str, list[str]], *, received_at: datetime) -> list[dict[str, Any]]:
    """Native items (a fix, and a status when the battery is given) from OsmAnd query parameters."""
    one = {k: v[0] for k, v in params.items() if v}
    at = parse_time(one["timestamp"]) if "timestamp" in one else received_at
    lat, lon = _position(one)
    items: list[dict[str, Any]] = []
    if lat is not None and lon is not None and not (lat == 0 and lon == 0):
        accuracy = _number(one, "accuracy")
        if accuracy is None and (hdop := _number(one, "hdop")) is not None and hdop > 0:
            accuracy = hdop * HDOP_UERE_M
        speed_kn = _number(one, "speed")
        items.append(fix(at, lat, lon, accuracy, None if speed_kn is None or speed_kn < 0 else speed_kn * KNOT_MPS))
    if (batt := _number(one, "batt")) is not None:
        items.append(status(at, batt, one.get("charge", "").lower() in ("true", "1")))
    return items


def decode_json(body: Mapping[str, Any], *, received_at: datetime) -> list[dict[str, Any]]:
    """Native items from a Traccar Client 9 JSON body (one `location`, or a list of them)."""
    locations = body.get("location")
    if isinstance(locations, Mapping):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise AdapterInputError("location: an object (or a list of objects) is required")
    items: list[dict[str, Any]] = []
    for i, loc in enumerate(locations):
        if not isinstance(loc, Mapping) or not isinstance(loc.get("coords"), Mapping):
            raise AdapterInputError(f"location[{i}].coords: an object is required")
        c = loc["coords"]
        at = parse_time(loc["timestamp"]) if loc.get("timestamp") is not None else received_at
        lat, lon = number(c.get("latitude"), "latitude"), number(c.get("longitude"), "longitude")
        acc = number(c.get("accuracy"), "accuracy") if c.get("accuracy") is not None else None
        speed = number(c.get("speed"), "speed") if c.get("speed") is not None else None
        items.append(fix(at, lat, lon, acc if acc is None or acc >= 0 else None,
                         speed if speed is None or speed >= 0 else None))
        battery = loc.get("battery")
        if isinstance(battery, Mapping) and battery.get("level") is not None:
            level = number(battery["level"], "battery.level")
            if level >= 0:
                items.append(status(at, level * 100, bool(battery.get("is_charging"))))
    return items


def parse_time(value: Any) -> datetime:
    text = str(value).strip()
    try:
        n = int(text)
    except ValueError:
        pass
    else:
        return from_epoch(n / 1000 if n >= 2**31 else n)
    try:
        if "T" in text:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise AdapterInputError(f"timestamp: {text[:40]!r} is not a time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _position(one: Mapping[str, str]) -> tuple[float | None, float | None]:
    if "location" in one:
        parts = one["location"].split(",")
        if len(parts) != 2:
            raise AdapterInputError("location: expected 'lat,lon'")
        return number(parts[0], "location"), number(parts[1], "location")
    lat = number(one["lat"], "lat") if "lat" in one else None
    lon = number(one["lon"], "lon") if "lon" in one else None
    return lat, lon


def _number(one: Mapping[str, str], key: str) -> float | None:
    return number(one[key], key) if one.get(key) not in (None, "") else None
