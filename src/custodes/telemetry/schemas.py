"""The versioned wire format of a telemetry batch and its item-by-item validation.

Two encodings carry the same items: a JSON envelope `{"v": 1, "seq": n, "items": [...]}` and
NDJSON (first line `{"v": 1, "seq": n}`, then one item per line), where a line that is not JSON
is rejected on its own instead of sinking the whole batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import NotRequired, TypedDict

MAX_ITEMS = 10_000
MAX_FUTURE = timedelta(minutes=5)
SOURCES = ("gps", "cell", "wifi")
STRAPS = ("closed", "open", "cut")

Finite = Annotated[float, Field(allow_inf_nan=False)]


class FixV1(TypedDict):
    """A position: `accuracy_m` is the radius of the device's own confidence circle."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    kind: Literal["fix"]
    time: AwareDatetime
    lat: Annotated[Finite, Field(ge=-90, le=90)]
    lon: Annotated[Finite, Field(ge=-180, le=180)]
    accuracy_m: Annotated[Finite, Field(ge=0, le=100_000)]
    source: Literal["gps", "cell", "wifi"]
    speed_mps: NotRequired[Annotated[Finite, Field(ge=0, le=1_000)] | None]


class StatusV1(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    kind: Literal["status"]
    time: AwareDatetime
    battery_pct: Annotated[Finite, Field(ge=0, le=100)]
    strap: Literal["closed", "open", "cut"]
    charging: bool
    signal_dbm: NotRequired[Annotated[int, Field(ge=-150, le=0)] | None]


# TypedDicts rather than models: pydantic-core validates them about twice as fast, which matters
# at 10,000 items a batch.
Item = Annotated[FixV1 | StatusV1, Field(discriminator="kind")]
_ITEM = TypeAdapter(Item)
Seq = Annotated[int, Field(ge=0, lt=2**63)]


class BatchV1(TypedDict):
    """The envelope: `seq` is the device's own, strictly increasing batch counter."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    v: Literal[1]
    seq: Seq
    items: Annotated[list[Item], Field(max_length=MAX_ITEMS)]


class BatchHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1]
    seq: Seq
    items: list | None = None


_BATCH = TypeAdapter(BatchV1)


class BatchRefused(ValueError):
    """The envelope itself is unusable (or an all-or-nothing item failed): nothing is accepted."""

    def __init__(self, reason: str, rejected: list[Rejection] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejected = rejected or []


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    kind: str | None = None  # the item's declared kind, when it could be read

    def to_dict(self) -> dict:
        return {"index": self.index, "reason": self.reason}


@dataclass
class FixColumns:
    """Accepted fixes as columns (cheap to sort, pack and evaluate in bulk)."""

    index: np.ndarray  # int32, position of the item in its batch
    t_ms: np.ndarray  # int64, Unix milliseconds UTC
    lat: np.ndarray  # float64
    lon: np.ndarray  # float64
    accuracy_m: np.ndarray  # float32
    source: np.ndarray  # uint8, index into SOURCES
    speed_mps: np.ndarray  # float32, NaN when the device sent none

    def __len__(self) -> int:
        return len(self.t_ms)

    @classmethod
    def empty(cls) -> FixColumns:
        return cls.from_fixes([], [])

    @classmethod
    def from_fixes(cls, indices: list[int], fixes: list[FixV1]) -> FixColumns:
        nan = float("nan")
        n = len(fixes)
        src = {s: i for i, s in enumerate(SOURCES)}
        return cls(
            index=np.asarray(indices, dtype=np.int32),
            t_ms=np.fromiter((_ms(f["time"]) for f in fixes), np.int64, n),
            lat=np.fromiter((f["lat"] for f in fixes), np.float64, n),
            lon=np.fromiter((f["lon"] for f in fixes), np.float64, n),
            accuracy_m=np.fromiter((f["accuracy_m"] for f in fixes), np.float32, n),
            source=np.fromiter((src[f["source"]] for f in fixes), np.uint8, n),
            speed_mps=np.fromiter((nan if f.get("speed_mps") is None else f["speed_mps"] for f in fixes), np.float32, n),
        )

    def take(self, mask_or_order: np.ndarray) -> FixColumns:
        return FixColumns(**{k: getattr(self, k)[mask_or_order] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class StatusReport:
    index: int
    t_ms: int
    battery_pct: float
    strap: str
    charging: bool
    signal_dbm: int | None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class ValidatedBatch:
    seq: int
    item_count: int
    fixes: FixColumns
    statuses: list[StatusReport] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted_count(self) -> int:
        return len(self.fixes) + len(self.statuses)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"] if not isinstance(p, int) and p not in ("fix", "status")]
        parts.append(f"{'.'.join(loc) or 'item'}: {err['msg']}")
    return "; ".join(parts)


def _split_ndjson(body: bytes) -> tuple[dict, list[object | Rejection]]:
    lines = [ln for ln in body.split(b"\n") if ln.strip()]
    if not lines:
        raise BatchRefused("empty batch: the first line must be the header {\"v\": 1, \"seq\": n}")
    try:
        header = json.loads(lines[0])
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        raise BatchRefused(f"malformed JSON in the header line: {exc}") from None
    raw: list[object | Rejection] = []
    for i, line in enumerate(lines[1:]):
        try:
            raw.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raw.append(Rejection(i, f"malformed JSON: {exc}"))
    return header, raw


def parse_batch(body: bytes, *, ndjson: bool = False) -> tuple[int, list[FixV1 | StatusV1 | Rejection]]:
    """Envelope checks, then item-by-item schema checks. Returns (seq, items or rejections)."""
    if not ndjson:
        try:  # fast path: the whole batch is valid, validated in one pass in pydantic-core
            batch = _BATCH.validate_json(body)
            return batch["seq"], batch["items"]
        except ValidationError:
            pass
        try:
            header = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BatchRefused(f"malformed JSON: {exc}") from None
        if not isinstance(header, dict) or not isinstance(header.get("items"), list):
            raise BatchRefused("the batch must be an object with v, seq and an items list")
        raw: list[object | Rejection] = header["items"]
    else:
        header, raw = _split_ndjson(body)
    try:
        seq = BatchHeader.model_validate(header if isinstance(header, dict) else {}).seq
    except ValidationError as exc:
        raise BatchRefused(f"bad envelope: {_reason(exc)}") from None
    if len(raw) > MAX_ITEMS:
        raise BatchRefused(f"too many items: {len(raw)} > {MAX_ITEMS}")
    out: list[FixV1 | StatusV1 | Rejection] = []
    for i, item in enumerate(raw):
        if isinstance(item, Rejection):
            out.append(item)
            continue
        try:
            out.append(_ITEM.validate_python(item))
        except ValidationError as exc:
            kind = item.get("kind") if isinstance(item, dict) else None
            out.append(Rejection(i, _reason(exc), kind if isinstance(kind, str) else None))
    return seq, out


def validate_batch(
    body: bytes, *, now: datetime, not_before: datetime | None, ndjson: bool = False
) -> ValidatedBatch:
    """Full validation of one upload against the time it was received and the order's start.

    A bad fix is dropped on its own: fixes are independent observations, and losing good evidence
    because a neighbour is broken helps nobody. A bad *status* report refuses the whole batch: status
    items are state transitions (strap cut then closed), and accepting the later ones without the
    earlier could hide a tamper, so the device must resend them together.
    """
    seq, items = parse_batch(body, ndjson=ndjson)
    future_ms = _ms(now + MAX_FUTURE)
    start_ms = _ms(not_before) if not_before is not None else -(2**62)
    rejected: list[Rejection] = []
    fix_idx: list[int] = []
    fixes: list[FixV1] = []
    statuses: list[StatusReport] = []
    for i, item in enumerate(items):
        if isinstance(item, Rejection):
            rejected.append(item)
        elif item["kind"] == "fix":
            fix_idx.append(i)
            fixes.append(item)
        else:
            t = _ms(item["time"])
            if reason := _time_problem(t, future_ms, start_ms):
                rejected.append(Rejection(i, reason, "status"))
            else:
                statuses.append(
                    StatusReport(i, t, item["battery_pct"], item["strap"], item["charging"], item.get("signal_dbm"))
                )
    cols = FixColumns.from_fixes(fix_idx, fixes)
    bad = (cols.t_ms > future_ms) | (cols.t_ms < start_ms)  # vectorised: this runs for every fix
    if bad.any():
        for i, t in zip(cols.index[bad].tolist(), cols.t_ms[bad].tolist(), strict=True):
            rejected.append(Rejection(i, _time_problem(t, future_ms, start_ms) or "", "fix"))
        cols = cols.take(~bad)
        rejected.sort(key=lambda r: r.index)
    if any(r.kind == "status" for r in rejected):
        raise BatchRefused("a status report is invalid: status batches are all-or-nothing", rejected)
    return ValidatedBatch(seq, len(items), cols, statuses, rejected)


def _time_problem(t_ms: int, future_ms: int, start_ms: int) -> str | None:
    if t_ms > future_ms:
        return "time: more than 5 minutes in the future"
    if t_ms < start_ms:
        return "time: before the monitoring order started"
    return None
