"""Ingestion use case: validate a signed upload and store it as a raw batch before answering.

The same function serves HTTP, MQTT and the adapters. Validation and packing run in the caller's
thread; storing goes through the process's group-commit writer (`intake`), which writes every
upload waiting at that moment in one transaction, so many uploads share one commit. The caller is
answered only once its group has committed: nothing answered is lost.

Storing is idempotent by (device, sequence): a resend gets the first answer again; a different
body under a used sequence number is a conflict. That is the replay protection of uploads, folded
into the batch insert (see `devices.signing` for why their nonces need no transaction).
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from datetime import datetime

import numpy as np

from custodes.actor import Actor
from custodes.bootstrap import Container
from custodes.devices import credentials
from custodes.errors import Invalid
from custodes.telemetry import intake, segment
from custodes.telemetry.intake import IngestResult, Upload
from custodes.telemetry.schemas import BatchRefused, FixColumns, validate_batch

__all__ = ["IngestResult", "UNKNOWN", "ingest", "order_start", "prepare", "submit"]

UNKNOWN: datetime | None = datetime.min  # "not read with the device": look the order start up


def order_start(container: Container, device_id: uuid.UUID) -> datetime | None:
    """The earliest start of an order of anyone this device has been assigned to: fixes older than
    that have no legal basis to be kept. From the process's credential cache (`devices.credentials`),
    which the signed paths have just read."""
    cred = credentials.cache(container).get(device_id)
    return cred.fixes_from if cred is not None else None


def prepare(container: Container, *, device_id: uuid.UUID, body: bytes, ndjson: bool, channel: str,
            signature: str, fixes_from: datetime | None = UNKNOWN) -> Upload:
    """Validate and pack one upload (CPU only, no database but the order start when not known)."""
    now = container.clock.now()
    not_before = order_start(container, device_id) if fixes_from is UNKNOWN else fixes_from
    try:
        vb = validate_batch(body, now=now, not_before=not_before, ndjson=ndjson)
    except BatchRefused as exc:
        raise Invalid(exc.reason, errors=[{"field": f"items[{r.index}]", "message": r.reason}
                                          for r in exc.rejected]) from None
    rejected = [r.to_dict() for r in vb.rejected]
    packed = _pack_exactly(vb.fixes) if len(vb.fixes) else None
    return Upload(values=dict(
        device_id=device_id, seq=vb.seq, received_at=now, channel=channel,
        encoding="ndjson" if ndjson else "json", raw=body, signature=signature,
        item_count=vb.item_count, fix_count=len(vb.fixes), fixes=packed,
        statuses=[st.to_dict() for st in vb.statuses], rejected=rejected, attempts=0), accepted=vb.accepted_count)


def submit(container: Container, upload: Upload) -> Future[IngestResult]:
    """Hand a prepared upload to the group-commit writer; the future resolves once it is committed."""
    return intake.writer(container).submit(upload)


def ingest(container: Container, *, device_id: uuid.UUID, body: bytes, ndjson: bool, channel: str,
           signature: str, actor: Actor | None = None, fixes_from: datetime | None = UNKNOWN) -> IngestResult:
    """Validate, store (in the next group commit) and answer; blocks until stored. `actor` is kept
    for the callers' symmetry: storing a raw batch writes no audited row."""
    upload = prepare(container, device_id=device_id, body=body, ndjson=ndjson, channel=channel,
                     signature=signature, fixes_from=fixes_from)
    return submit(container, upload).result()


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
