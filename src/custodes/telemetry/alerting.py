"""What the pipeline's events become: alerts with their evidence (batch, fix, rule version,
lateness), revised when late data moves their instant; and the alert for rules that cannot be judged."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from custodes.alerts.service import raise_alert, revise
from custodes.rules import Event
from custodes.telemetry import late, quarantine
from custodes.telemetry.evaluation import fix_ref
from custodes.telemetry.ruleset import Versioned


def raise_events(uow, subject_id: uuid.UUID, events: list[Event], device_id: uuid.UUID | None, seq: int | None,
           rules: Versioned | None = None, received_at: datetime | None = None, seen: set[str] | None = None) -> int:
    raised = 0
    for e in events:
        if e.severity == "info":  # exits, ends, resumptions: kept in state, no action needed
            continue
        if seen is not None:
            if e.dedupe_key in seen:  # a replay in this turn judged it again
                continue
            seen.add(e.dedupe_key)
        evidence = dict(e.evidence)
        if seq is not None:
            evidence["source_batch"] = f"{device_id}/{seq}"
        if device_id is not None:
            if isinstance(evidence.get("fix_id"), int):
                evidence["fix_id"] = fix_ref(device_id, evidence["fix_id"])
        if rules is not None:
            evidence = rules.stamp(evidence)
        if (note := late.late_note(e, evidence, received_at)) is not None:
            evidence["late"] = note
        alert, new = raise_alert(uow=uow, subject_id=subject_id, kind=e.kind, category=e.category,
                                 severity=e.severity, occurred_at=e.at, dedupe_key=e.dedupe_key, evidence=evidence)
        if not new and alert.occurred_at != e.at and received_at is not None:
            # judged again on more data, the same episode began at another instant: say so on it
            revise(uow=uow, alert=alert, occurred_at=e.at, evidence=evidence,
                   note={"by_batch": f"{device_id}/{seq}", "received_at": late.iso_z(received_at)})
        raised += int(new)
    return raised


def unevaluable(uow, subject_id: uuid.UUID, exc: Exception, now: datetime) -> int:
    """An integrity alert instead of a silent skip: this subject's rules cannot be judged now."""
    version = getattr(exc, "version", None) or hashlib.sha256(quarantine.one_line(exc).encode()).hexdigest()[:16]
    cause = getattr(exc, "cause", None)
    evidence = {"error": quarantine.one_line(exc), "rules_version": version}
    if cause is not None:
        evidence |= {"condition_id": cause.condition_id, "field": cause.field}
    _, new = raise_alert(uow=uow, subject_id=subject_id, kind="rules_unevaluable", category="integrity",
                         severity="high", occurred_at=now, dedupe_key=f"{subject_id}:rules_unevaluable:{version}",
                         evidence=evidence)
    return int(new)
