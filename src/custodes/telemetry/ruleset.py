"""From an order's stored conditions to the rules engine's `RuleSet`, cached per subject.

Conditions are created and deleted, never edited in place, so the set of condition ids of the
subject's active orders identifies a rule set; the cache rebuilds only when that set changes.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.orders.models import Condition, Order
from custodes.rules import Circle, CurfewRule, RuleSet, ZoneRule
from custodes.subjects.models import Subject

ACTIVE = ("active",)


def build(subject_tz: str, conditions: list[tuple[str, dict]]) -> RuleSet:
    zones: list[ZoneRule] = []
    by_name: dict[str, str] = {}
    for cid, spec in conditions:
        if spec.get("kind") != "zone":
            continue
        c = spec.get("circle")
        geometry = Circle(c["lat"], c["lon"], c["radius_m"]) if c else spec["geometry"]
        zones.append(ZoneRule(cid, spec["zone_type"], geometry, margin_m=spec.get("margin_m", 25.0),
                              min_dwell_s=spec.get("min_dwell_s", 60)))
        by_name[spec["name"]] = cid
    inclusion = [z.zone_id for z in zones if z.kind == "inclusion"]
    curfews: list[CurfewRule] = []
    for cid, spec in conditions:
        if spec.get("kind") != "curfew":
            continue
        zone = by_name.get(spec.get("zone_name") or "") or (inclusion[0] if inclusion else None)
        if zone is None:  # a curfew needs a place to be; without one it cannot be judged
            continue
        curfews.append(CurfewRule(cid, zone, spec["rrule"], datetime.fromisoformat(str(spec["start_local"])),
                                  timedelta(minutes=spec["duration_minutes"]), tz=subject_tz,
                                  no_fix_after_s=60.0 * spec.get("no_fix_after_minutes", 30)))
    return RuleSet(zones=tuple(zones), curfews=tuple(curfews))


class RuleCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[uuid.UUID, tuple[tuple, RuleSet]] = {}

    def get(self, session: Session, subject_id: uuid.UUID) -> RuleSet:
        ids = tuple(sorted(str(i) for i in session.scalars(
            select(Condition.id).join(Order, Order.id == Condition.order_id)
            .where(Order.subject_id == subject_id, Order.status.in_(ACTIVE)))))
        with self._lock:
            hit = self._cache.get(subject_id)
        if hit is not None and hit[0] == ids:
            return hit[1]
        tz = session.scalar(select(Subject.time_zone).where(Subject.id == subject_id)) or "UTC"
        rows = session.execute(select(Condition.id, Condition.spec).where(Condition.id.in_(
            [uuid.UUID(i) for i in ids]))).all() if ids else []
        rules = build(tz, sorted((str(i), s) for i, s in rows))
        with self._lock:
            self._cache[subject_id] = (ids, rules)
        return rules
