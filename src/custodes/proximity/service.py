"""The pipeline's two calls into proximity: divert a protected phone's fixes, and the rules' context.

`divert` is the one hook in `telemetry.pipeline`: a protected person's phone does not feed a trail;
its newest fix overwrites the one position kept and the batch's bodies are blanked. `context` gives
the rules engine the proximity rules of the turn's subjects and the positions they need, each read
audited with its purpose.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from custodes.orders.models import Order
from custodes.proximity.models import (
    ProtectedPerson,
    ProtectedPosition,
    ProximityCondition,
)
from custodes.rules.proximity import Beacons, ProximityRule
from custodes.telemetry import segment

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PURPOSE = "proximity rule"


def protected_person(session, device_id: uuid.UUID) -> ProtectedPerson | None:
    """The protected person whose phone this is, while their consent stands."""
    return session.scalars(select(ProtectedPerson).where(ProtectedPerson.device_id == device_id,
                                                         ProtectedPerson.consent_withdrawn_at.is_(None))).first()


def protected_phones(session, device_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these devices are protected people's phones (consent standing or not): `divert`
    is the path for their batches."""
    if not device_ids:
        return set()
    return set(session.scalars(select(ProtectedPerson.device_id).where(ProtectedPerson.device_id.in_(device_ids))))


def divert(uow, device_id: uuid.UUID, batches: Iterable) -> bool:
    """If `device_id` is a protected person's phone: keep only its newest fix, blank the batches'
    bodies (never a trail, no raw copy), and return True (the pipeline then evaluates nothing)."""
    s = uow.session
    batches = list(batches)
    if not batches or s.scalar(select(ProtectedPerson.id).where(ProtectedPerson.device_id == device_id)) is None:
        return False
    person = protected_person(s, device_id)
    best = None
    for b in batches:
        if person is not None and b.fixes:
            cols = segment.unpack(b.fixes)
            if len(cols):
                j = int(np.argmax(cols.t_ms))
                if best is None or cols.t_ms[j] > best[0]:
                    best = (int(cols.t_ms[j]), float(cols.lat[j]), float(cols.lon[j]), float(cols.accuracy_m[j]))
        b.fixes = None
        b.raw = b""  # the protected person's positions are not evidence against anyone: not kept
    if best is not None:
        at = EPOCH + timedelta(milliseconds=best[0])
        row = s.get(ProtectedPosition, person.id)
        if row is None:
            s.add(ProtectedPosition(protected_id=person.id, at=at, lat=best[1], lon=best[2], accuracy_m=best[3]))
        elif at > row.at:
            row.at, row.lat, row.lon, row.accuracy_m = at, best[1], best[2], best[3]
    return True


def context(uow, subject_ids: list[uuid.UUID]) -> tuple[dict[uuid.UUID, tuple[ProximityRule, ...]], Beacons]:
    """The proximity rules of these subjects' active orders, and the latest positions they name
    (consent standing). Each position read is audited, with the subject it was read for."""
    s = uow.session
    rows = s.execute(select(Order.subject_id, ProximityCondition).join(Order, Order.id == ProximityCondition.order_id)
                     .join(ProtectedPerson, ProtectedPerson.id == ProximityCondition.protected_id)
                     .where(Order.subject_id.in_(subject_ids), Order.status == "active",
                            ProtectedPerson.consent_withdrawn_at.is_(None))).all()
    rules: dict[uuid.UUID, list[ProximityRule]] = {}
    for subject_id, c in rows:
        rules.setdefault(subject_id, []).append(ProximityRule(str(c.id), str(c.protected_id), c.radius_m,
                                                              c.max_skew_s, c.min_dwell_s))
    wanted = {uuid.UUID(r.protected_id) for rs in rules.values() for r in rs}
    latest = {}
    if wanted:
        for p in s.scalars(select(ProtectedPosition).where(ProtectedPosition.protected_id.in_(wanted))):
            latest[str(p.protected_id)] = ((p.at - EPOCH) // timedelta(microseconds=1), p.lat, p.lon, p.accuracy_m)
        for subject_id, rs in rules.items():
            for r in rs:
                if r.protected_id in latest:
                    uow.record_read("protected_position", r.protected_id, purpose=PURPOSE,
                                    detail={"for_subject": str(subject_id), "condition_id": r.rule_id})
    return {k: tuple(v) for k, v in rules.items()}, Beacons.of(latest)


def pipeline_turn(uow, device_id: uuid.UUID, batches: list, spans: list) -> tuple[list, dict]:
    """The pipeline's one hook, once per device turn: a protected phone's batches are diverted
    (no subject is fed: the spans come back empty); otherwise the proximity rules and positions of
    the device's subjects, as keyword arguments for `telemetry.evaluation.evaluate`."""
    if divert(uow, device_id, batches):
        return [], {}
    rules, beacons = context(uow, sorted({subject_id for subject_id, *_ in spans}))
    return spans, {sid: {"proximity": r, "beacons": beacons} for sid, r in rules.items()}
