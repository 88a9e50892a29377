"""Ingestion use case: validate a signed upload and store it as a raw batch before answering.

The same function serves HTTP and MQTT. Storing is idempotent by (device, sequence): a resend gets
the first answer again; a different body under a used sequence number is a conflict.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from custodes.access.actor import Actor
from custodes.bootstrap import Container
from custodes.devices.models import Assignment
from custodes.errors import Conflict, Invalid
from custodes.orders.models import Order
from custodes.telemetry import segment
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.schemas import BatchRefused, FixColumns, validate_batch


@dataclass
class IngestResult:
    seq: int
    highest_seq: int
    accepted: int
    rejected: list[dict] = field(default_factory=list)
    duplicate: bool = False

    def to_dict(self) -> dict:
        return {"seq": self.seq, "highest_seq": self.highest_seq, "accepted": self.accepted,
                "rejected": self.rejected, "duplicate": self.duplicate}


_ORDER_START: dict[uuid.UUID, tuple[float, datetime | None]] = {}
ORDER_START_TTL_S = 10.0  # a device uploads often; its orders change rarely


def order_start(container: Container, device_id: uuid.UUID) -> datetime | None:
    """The earliest start of an order of anyone this device has been assigned to: fixes older than
    that have no legal basis to be kept. Cached for a few seconds per device."""
    t = time.monotonic()
    hit = _ORDER_START.get(device_id)
    if hit is not None and t - hit[0] < ORDER_START_TTL_S:
        return hit[1]
    with container.uow(Actor.system("ingest")) as uow:
        start = uow.session.scalar(
            select(func.min(Order.starts_at)).join(Assignment, Assignment.subject_id == Order.subject_id)
            .where(Assignment.device_id == device_id, Order.status != "draft"))
    _ORDER_START[device_id] = (t, start)
    return start


def ingest(container: Container, *, device_id: uuid.UUID, body: bytes, ndjson: bool, channel: str,
           signature: str, actor: Actor) -> IngestResult:
    now = container.clock.now()
    try:  # validation happens outside the transaction: on SQLite a transaction holds the write lock
        vb = validate_batch(body, now=now, not_before=order_start(container, device_id), ndjson=ndjson)
    except BatchRefused as exc:
        raise Invalid(exc.reason, errors=[{"field": f"items[{r.index}]", "message": r.reason}
                                          for r in exc.rejected]) from None
    rejected = [r.to_dict() for r in vb.rejected]
    packed = _pack_exactly(vb.fixes) if len(vb.fixes) else None
    with container.uow(actor) as uow:
        s = uow.session
        existing = _existing(s, device_id, vb.seq)
        if existing is None:
            s.add(TelemetryBatch(
                device_id=device_id, seq=vb.seq, received_at=now, channel=channel,
                encoding="ndjson" if ndjson else "json", raw=body, signature=signature,
                item_count=vb.item_count, fix_count=len(vb.fixes),
                fixes=packed,
                statuses=[st.to_dict() for st in vb.statuses], rejected=rejected))
            try:
                s.flush()
                highest = _highest(s, device_id)
                uow.commit()
                return IngestResult(vb.seq, highest, vb.accepted_count, rejected)
            except IntegrityError:  # the same batch raced in through another request or worker
                uow.rollback()
                existing = _existing(s, device_id, vb.seq)
                if existing is None:
                    raise
        if existing.raw != body:
            raise Conflict(f"sequence number {vb.seq} was already used for a different batch")
        return IngestResult(vb.seq, _highest(s, device_id), vb.accepted_count, list(existing.rejected),
                            duplicate=True)


def _pack_exactly(cols: FixColumns) -> bytes:
    """Pack the accepted fixes and read them back: a batch whose fixes would not come back as sent
    (to the stored resolution) is refused now, with the item named, rather than accepted and lost."""
    try:
        packed = segment.pack(cols)
    except segment.NotStorable as exc:
        raise Invalid(f"items[{exc.index}]: {exc.reason}: cannot be stored exactly", errors=[
            {"field": f"items[{exc.index}]", "message": exc.reason}]) from None
    back = segment.unpack(packed)
    want = segment.canonical(cols.take(np.argsort(cols.t_ms, kind="stable")))
    for name in ("t_ms", "lat", "lon", "index", "accuracy_m", "source", "speed_mps"):
        differ = ~((getattr(back, name) == getattr(want, name)) |
                   (np.isnan(getattr(want, name)) & np.isnan(getattr(back, name))
                    if name == "speed_mps" else False))
        if differ.any():
            i = int(want.index[np.flatnonzero(differ)[0]])
            raise Invalid(f"items[{i}]: {name} would not be stored as sent", errors=[
                {"field": f"items[{i}]", "message": f"{name} would not be stored as sent"}])
    return packed


def _existing(session, device_id: uuid.UUID, seq: int) -> TelemetryBatch | None:
    return session.scalars(select(TelemetryBatch).where(TelemetryBatch.device_id == device_id,
                                                        TelemetryBatch.seq == seq)).first()


def _highest(session, device_id: uuid.UUID) -> int:
    return int(session.scalar(select(func.max(TelemetryBatch.seq)).where(TelemetryBatch.device_id == device_id)))
