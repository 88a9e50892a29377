"""Deadline ticks: every row past its deadline raises its alert once (the alert's dedupe key).

A row stays overdue after its alert is raised (an order not yet reviewed, a task not yet answered),
so a pass that took only the first `batch` overdue rows would take the same ones at every tick and
never reach the rest. A pass therefore walks every overdue row in keyset order (deadline, id), one
transaction per chunk of `batch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from custodes.actor import Actor
from custodes.alerts import service as alerts


@dataclass(frozen=True)
class Overdue:
    overdue: int
    raised: int


@dataclass(frozen=True)
class DeadlineAlert:
    """What a row past its deadline raises."""

    kind: str
    dedupe_key: str
    occurred_at: datetime
    evidence: dict[str, Any]
    severity: str = "medium"
    category: str = "casework"


def tick(container, *, actor: str, model, deadline, where: ColumnElement[bool],
         alert_for: Callable[[Any, datetime], DeadlineAlert], batch: int = 1000) -> Overdue:
    """One pass at the container clock's now over every `model` row matching `where` whose `deadline`
    has passed; idempotent (safe from several workers and every tick)."""
    overdue = raised = 0
    after: tuple | None = None
    while True:
        with container.uow(Actor.system(actor)) as uow:
            now = uow.clock.now()
            q = select(model).where(where, deadline <= now)
            if after is not None:
                q = q.where(_after(deadline, model.id, after))
            rows = uow.session.scalars(q.order_by(deadline, model.id).limit(batch)).all()
            for row in rows:
                spec = alert_for(row, now)
                _, new = alerts.raise_alert(uow=uow, subject_id=row.subject_id, kind=spec.kind, category=spec.category,
                                            severity=spec.severity, occurred_at=spec.occurred_at,
                                            dedupe_key=spec.dedupe_key, evidence=spec.evidence)
                raised += new
            uow.commit()
        overdue += len(rows)
        if len(rows) < batch:
            return Overdue(overdue, raised)
        last = rows[-1]
        after = (getattr(last, deadline.key), last.id)


def _after(deadline, id_col, after: tuple) -> ColumnElement[bool]:
    """(deadline, id) > after, spelled out rather than as a row-value comparison."""
    return or_(deadline > after[0], and_(deadline == after[0], id_col > after[1]))
