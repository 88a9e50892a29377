"""What both phone protocols share: the native items they become, numbers and times checked on the way."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

UNKNOWN_ACCURACY_M = 1000.0  # a position that states no accuracy can never confirm a breach alone


class AdapterInputError(ValueError):
    """The message cannot be turned into a batch; the text says what is wrong."""


def fix(at: datetime, lat: float, lon: float, accuracy: float | None, speed_mps: float | None) -> dict[str, Any]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise AdapterInputError(f"position: ({lat}, {lon}) is not a latitude and longitude")
    # The phone's OS gives a fused position with its own accuracy and no source: the accuracy is what
    # the rules use, so the source is recorded as GPS.
    item: dict[str, Any] = {"kind": "fix", "time": at.isoformat(), "lat": lat, "lon": lon,
                            "accuracy_m": UNKNOWN_ACCURACY_M if accuracy is None else accuracy, "source": "gps"}
    if speed_mps is not None:
        item["speed_mps"] = speed_mps
    return item


def status(at: datetime, battery_pct: float, charging: bool) -> dict[str, Any]:
    # A phone has no strap; it is reported closed, which is the state every device starts in, so a
    # phone can raise battery and charging events but never a strap event.
    return {"kind": "status", "time": at.isoformat(), "battery_pct": min(100.0, max(0.0, battery_pct)),
            "strap": "closed", "charging": charging}


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AdapterInputError("body: not JSON") from None
    if not isinstance(message, dict):
        raise AdapterInputError("body: a JSON object is required")
    return message


def from_epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise AdapterInputError(f"timestamp: {seconds} is out of range") from None


def number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise AdapterInputError(f"{name}: a number is required")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise AdapterInputError(f"{name}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(x):
        raise AdapterInputError(f"{name}: must be finite")
    return x
