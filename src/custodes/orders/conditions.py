"""The shapes of conditions, validated hard: GeoJSON (RFC 7946), circles, RRULEs, check-in policy;
and the rules engine's `RuleSet` built from an order's stored conditions (`rule_set`)."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from shapely.geometry import shape
from shapely.validation import explain_validity

from custodes.rules import Circle as CircleRule
from custodes.rules import CurfewRule, RuleSet, ZoneRule
from custodes.rules.curfew import MAX_START_YEAR, MIN_START_YEAR, RuleBoundExceeded, bounds, first_occurrence

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
        if not MIN_START_YEAR <= v.year <= MAX_START_YEAR:  # expansions walk from here: keep it near
            raise ValueError(f"the first window must start between {MIN_START_YEAR} and {MAX_START_YEAR}")
        return v

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str, info: ValidationInfo) -> str:
        """The engine's own bounds (one FREQ, INTERVAL >= 1, a bounded number a day, an occurrence
        within two years), checked without expanding anything unbounded."""
        text = v.strip().removeprefix("RRULE:")
        try:
            freq = bounds(text)["FREQ"]
            if freq not in _ALLOWED_FREQ:
                raise ValueError(f"rrule FREQ must be one of {', '.join(_ALLOWED_FREQ)}")
            start = info.data.get("start_local") or datetime(MIN_START_YEAR, 1, 1)
            first_occurrence(text, start)
        except RuleBoundExceeded as exc:
            raise ValueError(str(exc)) from None
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


class Unevaluable(ValueError):
    """A stored condition the rules engine cannot judge; `field` is the spec field at fault."""

    def __init__(self, condition_id: str, field: str, message: str) -> None:
        super().__init__(f"condition {condition_id}: {field}: {message}")
        self.condition_id, self.field, self.message = condition_id, field, message


def rule_set(subject_tz: str, conditions: list[tuple[str, dict]]) -> RuleSet:
    """The rules engine's RuleSet from (condition id, stored spec) pairs. Never drops a condition:
    one that cannot be judged (a curfew without its inclusion zone, a rule out of bounds) raises."""
    zones: list[ZoneRule] = []
    inclusion: dict[str, str] = {}
    for cid, spec in conditions:
        if spec.get("kind") != "zone":
            continue
        c = spec.get("circle")
        geometry = CircleRule(c["lat"], c["lon"], c["radius_m"]) if c else spec["geometry"]
        zones.append(ZoneRule(cid, spec["zone_type"], geometry, margin_m=spec.get("margin_m", 25.0),
                              min_dwell_s=spec.get("min_dwell_s", 60)))
        if spec["zone_type"] == "inclusion":
            inclusion.setdefault(spec["name"], cid)
    curfews: list[CurfewRule] = []
    for cid, spec in conditions:
        if spec.get("kind") != "curfew":
            continue
        name = spec.get("zone_name")
        # Curfews stored before the zone was required name none: the order's only inclusion zone.
        zone = inclusion.get(name) if name else (next(iter(inclusion.values())) if len(inclusion) == 1 else None)
        if zone is None:
            raise Unevaluable(cid, "spec.zone_name", f"a curfew needs an inclusion zone; none named {name!r}"
                              if name else "a curfew needs an inclusion zone to be judged against")
        try:
            start = datetime.fromisoformat(str(spec["start_local"]))
            curfews.append(CurfewRule(cid, zone, spec["rrule"], start, timedelta(minutes=spec["duration_minutes"]),
                                      tz=subject_tz, no_fix_after_s=60.0 * spec.get("no_fix_after_minutes", 30)))
        except (KeyError, TypeError, ValueError) as exc:
            raise Unevaluable(cid, "spec", str(exc)) from None
    try:
        return RuleSet(zones=tuple(zones), curfews=tuple(curfews))
    except RuleBoundExceeded as exc:
        raise Unevaluable(_culprit(str(exc), curfews), "spec.rrule", str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:  # zone geometry that will not compile, an unknown zone
        raise Unevaluable("?", "spec", str(exc)) from None


def _culprit(message: str, curfews: list[CurfewRule]) -> str:
    for c in curfews:
        try:
            first_occurrence(c.rrule, c.dtstart_local)
        except RuleBoundExceeded:
            return c.curfew_id
    return "?"
