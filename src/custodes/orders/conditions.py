"""The shapes of conditions, validated hard: GeoJSON (RFC 7946), circles, RRULEs, check-in policy."""

from __future__ import annotations

import math
from datetime import datetime, time
from typing import Annotated, Any, Literal

from dateutil.rrule import rrulestr
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from shapely.geometry import shape
from shapely.validation import explain_validity

_ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY")


def _check_position(pos: Any, where: str) -> None:
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
        raise ValueError(f"{where}: a position is [longitude, latitude]")
    lon, lat = pos[0], pos[1]
    for name, v, lim in (("longitude", lon, 180), ("latitude", lat, 90)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"{where}: {name} must be a finite number")
        if not -lim <= v <= lim:
            raise ValueError(f"{where}: {name} {v} out of range [-{lim}, {lim}]")


def _check_ring(ring: Any, where: str) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError(f"{where}: a linear ring needs at least 4 positions")
    for i, pos in enumerate(ring):
        _check_position(pos, f"{where}[{i}]")
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise ValueError(f"{where}: a linear ring must be closed (first position equals last)")


def validate_geojson(geometry: dict[str, Any]) -> dict[str, Any]:
    """Accept a Polygon or MultiPolygon that is valid as a shape; explain what is wrong otherwise."""
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise ValueError("MultiPolygon needs a non-empty list of polygons")
        polygons = coords
    else:
        raise ValueError(f"geometry type must be Polygon or MultiPolygon, not {kind!r}")
    for p, rings in enumerate(polygons):
        if not isinstance(rings, list) or not rings:
            raise ValueError(f"polygon {p} needs at least an exterior ring")
        for r, ring in enumerate(rings):
            _check_ring(ring, f"polygon {p} ring {r}")
    geom = shape(geometry)
    if not geom.is_valid:
        raise ValueError(f"invalid polygon: {explain_validity(geom)}")
    if geom.area == 0:
        raise ValueError("polygon has no area")
    return {"type": kind, "coordinates": coords}


class Circle(BaseModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    radius_m: float = Field(gt=0, le=50_000, allow_inf_nan=False)


class ZoneSpec(BaseModel):
    kind: Literal["zone"] = "zone"
    name: str = Field(min_length=1, max_length=200)
    zone_type: Literal["inclusion", "exclusion"]
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon (RFC 7946)")
    circle: Circle | None = None
    margin_m: float = Field(default=25.0, ge=0, le=1000, description="hysteresis band at the boundary")
    min_dwell_s: int = Field(default=60, ge=0, le=3600, description="time inside before an entry counts")

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else validate_geojson(v)

    @model_validator(mode="after")
    def _one_shape(self) -> ZoneSpec:
        if (self.geometry is None) == (self.circle is None):
            raise ValueError("give exactly one of geometry (GeoJSON) or circle")
        return self


class CurfewSpec(BaseModel):
    kind: Literal["curfew"] = "curfew"
    start_local: datetime = Field(description="first window start, local wall time in the subject's zone")
    rrule: str = Field(min_length=6, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=DAILY")
    duration_minutes: int = Field(gt=0, le=24 * 60)
    zone_name: str | None = Field(default=None, description="inclusion zone the person must be inside")
    no_fix_after_minutes: int = Field(default=30, ge=1, le=24 * 60)

    @field_validator("start_local")
    @classmethod
    def _naive(cls, v: datetime) -> datetime:
        if v.tzinfo is not None:
            raise ValueError("give local wall time without an offset; the subject's time zone applies")
        return v

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str, info: ValidationInfo) -> str:
        text = v.strip().removeprefix("RRULE:")
        try:
            rule = rrulestr(text, dtstart=info.data.get("start_local") or datetime(2000, 1, 1))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"rrule does not parse: {exc}") from None
        freq = dict(p.split("=", 1) for p in text.split(";") if "=" in p).get("FREQ")
        if freq not in _ALLOWED_FREQ:
            raise ValueError(f"rrule FREQ must be one of {', '.join(_ALLOWED_FREQ)}")
        if next(iter(rule), None) is None:
            raise ValueError("rrule yields no occurrence")
        return text


def _hhmm(v: str) -> time:
    try:
        return time.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{v!r} is not a time of day HH:MM") from None


class QuietHours(BaseModel):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _t(cls, v: str) -> str:
        return _hhmm(v).strftime("%H:%M")


class CheckInPolicySpec(BaseModel):
    kind: Literal["check_in_policy"] = "check_in_policy"
    prompts_per_day: int = Field(ge=0, le=5)
    waking_start: str = "08:00"
    waking_end: str = "21:00"
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    response_minutes: int = Field(default=15, ge=2, le=120)
    min_gap_minutes: int = Field(default=60, ge=0, le=720)

    @field_validator("waking_start", "waking_end")
    @classmethod
    def _t(cls, v: str) -> str:
        return _hhmm(v).strftime("%H:%M")

    @model_validator(mode="after")
    def _window(self) -> CheckInPolicySpec:
        if _hhmm(self.waking_end) <= _hhmm(self.waking_start):
            raise ValueError("waking_end must be after waking_start")
        return self


ConditionSpec = Annotated[ZoneSpec | CurfewSpec | CheckInPolicySpec, Field(discriminator="kind")]
