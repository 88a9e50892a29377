"""From an order's stored conditions to the rules engine's `RuleSet`, cached per subject.

Conditions are edited in place (`PUT /v1/conditions/{id}` bumps `Condition.revision`), so the key
of a rule set is its (condition id, revision) pairs plus the subject's time zone, read in the
worker's own transaction at every turn: any worker sees an edit at the next fix. The key's digest
is the rule set's version, recorded with every alert it raises.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.orders.conditions import Unevaluable, rule_set
from custodes.orders.models import Condition, Order
from custodes.rules import RuleSet
from custodes.subjects.models import Subject

ACTIVE = ("active",)


def build(subject_tz: str, conditions: list[tuple[str, dict]]) -> RuleSet:
    return rule_set(subject_tz, conditions)


class RulesUnusable(ValueError):
    """The subject's conditions cannot be judged (a stored rule out of bounds, a curfew with no zone)."""

    def __init__(self, subject_id: uuid.UUID, version: str, cause: Unevaluable) -> None:
        super().__init__(f"rules of subject {subject_id} cannot be evaluated: {cause}")
        self.subject_id, self.version, self.cause = subject_id, version, cause


@dataclass(frozen=True)
class Versioned:
    rules: RuleSet
    version: str  # digest of the (condition id, revision) pairs and the time zone
    revisions: dict[str, int]  # condition id -> revision the rules were built from

    def stamp(self, evidence: dict) -> dict:
        """The rule version an event was judged by: the set's, and that condition's revision."""
        cid = evidence.get("curfew_id") or evidence.get("zone_id")
        out = {**evidence, "rules_version": self.version}
        if cid in self.revisions:
            out["condition_revision"] = self.revisions[cid]
        return out


class RuleCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[uuid.UUID, tuple[tuple, Versioned | RulesUnusable]] = {}

    def get(self, session: Session, subject_id: uuid.UUID) -> RuleSet:
        return self.versioned(session, subject_id).rules

    def versioned(self, session: Session, subject_id: uuid.UUID) -> Versioned:
        """The subject's rules as of this transaction; raises RulesUnusable (cached like a rule set)."""
        got = self.versioned_many(session, [subject_id])[subject_id]
        if isinstance(got, RulesUnusable):
            raise RulesUnusable(subject_id, got.version, got.cause)
        return got

    def versioned_many(self, session: Session,
                       subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, Versioned | RulesUnusable]:
        """Many subjects' rules as of this transaction in two queries (one pipeline turn serves many
        devices); a subject whose rules cannot be judged gets its RulesUnusable, not a raise."""
        revs: dict[uuid.UUID, list[tuple[str, int]]] = {sid: [] for sid in subject_ids}
        for sid, i, r in session.execute(
                select(Order.subject_id, Condition.id, Condition.revision).join(Order, Order.id == Condition.order_id)
                .where(Order.subject_id.in_(subject_ids), Order.status.in_(ACTIVE))):
            revs[sid].append((str(i), r))
        zones = dict(session.execute(select(Subject.id, Subject.time_zone).where(Subject.id.in_(subject_ids))).all())
        return {sid: self._built(session, sid, (zones.get(sid) or "UTC", tuple(sorted(revs[sid]))))
                for sid in subject_ids}

    def _built(self, session: Session, subject_id: uuid.UUID, key: tuple) -> Versioned | RulesUnusable:
        tz, revs = key
        with self._lock:
            hit = self._cache.get(subject_id)
        if hit is None or hit[0] != key:
            version = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
            rows = session.execute(select(Condition.id, Condition.spec).where(Condition.id.in_(
                [uuid.UUID(i) for i, _ in revs]))).all() if revs else []
            try:
                built: Versioned | RulesUnusable = Versioned(build(tz, sorted((str(i), s) for i, s in rows)), version,
                                                             dict(revs))
            except Unevaluable as exc:
                built = RulesUnusable(subject_id, version, exc)
            hit = (key, built)
            with self._lock:
                self._cache[subject_id] = hit
        return hit[1]
