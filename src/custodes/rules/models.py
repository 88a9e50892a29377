"""Value objects of the rules engine: inputs (fixes, status), rules, per-subject state and events.

Plain frozen dataclasses with no ORM imports. All datetimes are timezone-aware UTC, except
`CurfewRule.dtstart_local`, which is naive wall-clock time in `CurfewRule.tz`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

FixSource = Literal["gps", "cell", "wifi"]
Strap = Literal["closed", "open", "cut"]
Category = Literal["breach", "device_fault", "integrity"]
Severity = Literal["info", "low", "medium", "high", "critical"]


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return at.astimezone(UTC)


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Fix:
    at: datetime
    lat: float
    lon: float
    accuracy_m: float
    source: FixSource = "gps"
    speed_mps: float | None = None
    fix_id: int | str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at))
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):  # also refuses NaN
            raise ValueError(f"fix {self.fix_id}: coordinates out of range")
        if not 0.0 <= self.accuracy_m < float("inf"):
            raise ValueError(f"fix {self.fix_id}: accuracy must be a finite, non-negative number of metres")
        if self.source not in ("gps", "cell", "wifi"):
            raise ValueError(f"fix {self.fix_id}: unknown source {self.source!r}")

    @classmethod
    def trusted(cls, at: datetime, lat: float, lon: float, accuracy_m: float, source: FixSource,
                fix_id: int | str | None) -> Fix:
        """A fix from values already checked (the batch path's columns): no validation again."""
        f = object.__new__(cls)
        put = object.__setattr__
        put(f, "at", at)
        put(f, "lat", lat)
        put(f, "lon", lon)
        put(f, "accuracy_m", accuracy_m)
        put(f, "source", source)
        put(f, "speed_mps", None)
        put(f, "fix_id", fix_id)
        return f


@dataclass(frozen=True, slots=True)
class StatusReport:
    at: datetime
    battery_pct: float
    strap: Strap = "closed"
    charging: bool = False
    signal: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at))


@dataclass(frozen=True, slots=True)
class Circle:
    """A circular zone: centre in WGS84 degrees and a radius in metres."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class ZoneRule:
    """An inclusion or exclusion zone. `geometry` is a GeoJSON (Multi)Polygon/Feature dict or a Circle.

    A fix counts as inside (outside) only when its whole accuracy circle is at least `margin_m`
    inside (outside) the boundary; the new side must then hold for `min_dwell_s` before the
    zone state changes. Fixes in between are "uncertain" and change nothing: no flapping.
    """

    zone_id: str
    kind: Literal["inclusion", "exclusion"]
    geometry: Any
    margin_m: float = 10.0
    min_dwell_s: float = 60.0


@dataclass(frozen=True)
class CurfewRule:
    """The subject must be inside `zone_id` during each window.

    Windows start at the RFC 5545 recurrence `rrule` from `dtstart_local` (naive wall-clock time in
    IANA zone `tz`) and end `duration` later in wall-clock time, so 19:00-07:00 stays 19:00-07:00
    across DST changes. A window with no fix for `no_fix_after_s` raises `curfew_no_fix`.
    """

    curfew_id: str
    zone_id: str
    rrule: str
    dtstart_local: datetime
    duration: timedelta
    tz: str = "Europe/London"
    no_fix_after_s: float = 1800.0


@dataclass(frozen=True)
class HealthThresholds:
    battery_low_pct: float = 20.0
    battery_critical_pct: float = 5.0
    battery_recover_pct: float = 25.0  # back to "ok" only above this: no flapping around 20 %


@dataclass(frozen=True)
class RuleSet:
    """All rules of one subject. Build once per subject and reuse: zone geometry is compiled here."""

    zones: tuple[ZoneRule, ...] = ()
    curfews: tuple[CurfewRule, ...] = ()
    health: HealthThresholds = HealthThresholds()
    max_speed_mps: float = 70.0  # 250 km/h, beyond any road vehicle in the UK
    silent_after_s: float = 3600.0
    presence_max_age_s: float = 1800.0  # the last fix decides presence at window start only if fresher
    compiled: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from custodes.rules.curfew import check
        from custodes.rules.zones import compile_zone

        kinds = {z.zone_id: z.kind for z in self.zones}
        if len(kinds) != len(self.zones):
            raise ValueError("zone ids must be unique within a rule set")
        for c in self.curfews:
            if kinds.get(c.zone_id) != "inclusion":
                raise ValueError(f"curfew {c.curfew_id} must refer to an inclusion zone of this rule set")
            check(c)
        object.__setattr__(self, "zones", tuple(self.zones))
        object.__setattr__(self, "curfews", tuple(self.curfews))
        object.__setattr__(self, "compiled", tuple(compile_zone(z) for z in self.zones))

    def curfew_zone_ids(self) -> frozenset[str]:
        return frozenset(c.zone_id for c in self.curfews)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    category: Category
    severity: Severity
    at: datetime
    evidence: dict
    dedupe_key: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "category": self.category, "severity": self.severity,
                "at": iso(self.at), "evidence": self.evidence, "dedupe_key": self.dedupe_key}


@dataclass(frozen=True, slots=True)
class ZoneState:
    """Hysteresis state of one zone: confirmed side (+1 in, -1 out, 0 unknown) and a pending side."""

    side: int = 0
    since: datetime | None = None  # when `side` was confirmed
    pending: int = 0
    pending_since: datetime | None = None

    def to_dict(self) -> dict:
        return {"side": self.side, "since": iso(self.since), "pending": self.pending,
                "pending_since": iso(self.pending_since)}

    @classmethod
    def from_dict(cls, d: dict) -> ZoneState:
        return cls(d["side"], from_iso(d["since"]), d["pending"], from_iso(d["pending_since"]))


@dataclass(frozen=True, slots=True)
class WindowState:
    """An open curfew window and its breach episodes."""

    start: datetime
    end: datetime
    breach_since: datetime | None = None
    episodes: int = 0
    no_fix_raised: bool = False
    open: bool = True  # a closed window stays as the bookmark for the next occurrence

    def to_dict(self) -> dict:
        return {"start": iso(self.start), "end": iso(self.end), "breach_since": iso(self.breach_since),
                "episodes": self.episodes, "no_fix_raised": self.no_fix_raised, "open": self.open}

    @classmethod
    def from_dict(cls, d: dict) -> WindowState:
        return cls(from_iso(d["start"]), from_iso(d["end"]), from_iso(d["breach_since"]),
                   d["episodes"], d["no_fix_raised"], d.get("open", True))


@dataclass(frozen=True, slots=True)
class SubjectState:
    """Everything the evaluators remember about one subject; persisted by the pipeline as JSON."""

    subject_id: str
    last_fix: Fix | None = None
    zones: dict[str, ZoneState] = field(default_factory=dict)
    windows: dict[str, WindowState] = field(default_factory=dict)  # latest window per curfew id
    curfews_checked_to: datetime | None = None  # windows starting at or before this are handled
    battery: str = "ok"  # ok | low | critical
    strap: str = "closed"
    charging: bool = False
    last_status_at: datetime | None = None
    silent_since: datetime | None = None  # set while a device_silent episode is open
    implausible: bool = False  # inside an implausible-movement episode
    # The latest instant at which a time-driven check decided something (a window opened or closed,
    # no fix, silence, or the first evaluation's "earlier is history"). Data older than this, or
    # than the newest item applied, arrived late: the pipeline re-judges it from a checkpoint.
    decided_to: datetime | None = None
    # The batch path's columns for this very state and rule set (batch_columns), or None. Not part
    # of the state's value: `evolve` drops it, JSON never carries it, equality ignores it.
    columns: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def last_seen(self) -> datetime | None:
        times = [t for t in (self.last_fix.at if self.last_fix else None, self.last_status_at) if t]
        return max(times) if times else None

    def evolve(self, **changes: Any) -> SubjectState:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        f = self.last_fix
        return {
            "subject_id": self.subject_id,
            "last_fix": None if f is None else {
                "at": iso(f.at), "lat": f.lat, "lon": f.lon, "accuracy_m": f.accuracy_m,
                "source": f.source, "speed_mps": f.speed_mps, "fix_id": f.fix_id},
            "zones": {k: v.to_dict() for k, v in self.zones.items()},
            "windows": {k: v.to_dict() for k, v in self.windows.items()},
            "curfews_checked_to": iso(self.curfews_checked_to),
            "battery": self.battery, "strap": self.strap, "charging": self.charging,
            "last_status_at": iso(self.last_status_at), "silent_since": iso(self.silent_since),
            "implausible": self.implausible, "decided_to": iso(self.decided_to),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SubjectState:
        f = d.get("last_fix")
        return cls(
            subject_id=d["subject_id"],
            last_fix=None if f is None else Fix(**{**f, "at": from_iso(f["at"])}),
            zones={k: ZoneState.from_dict(v) for k, v in d.get("zones", {}).items()},
            windows={k: WindowState.from_dict(v) for k, v in d.get("windows", {}).items()},
            curfews_checked_to=from_iso(d.get("curfews_checked_to")),
            battery=d.get("battery", "ok"), strap=d.get("strap", "closed"),
            charging=d.get("charging", False), last_status_at=from_iso(d.get("last_status_at")),
            silent_since=from_iso(d.get("silent_since")), implausible=d.get("implausible", False),
            decided_to=from_iso(d.get("decided_to")),
        )
