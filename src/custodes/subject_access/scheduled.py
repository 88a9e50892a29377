"""The person's voice, periodic job: a contest or representation still unanswered at its deadline
raises an alert to the owning caseworkers, exactly once per task (the dedupe key is the task's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts import service as alerts
from custodes.subject_access.models import CaseTask

ALERT_TASK_OVERDUE = "task_overdue"


@dataclass(frozen=True)
class OverdueTasks:
    overdue: int
    raised: int


def dedupe_key(task: CaseTask) -> str:
    return f"{ALERT_TASK_OVERDUE}:{task.id}"


def task_overdue_tick(container, batch: int = 1000) -> OverdueTasks:
    """One pass at the container clock's now; idempotent (safe from several workers and every tick).

    A task answered before the pass is not open, so it raises nothing, however late it was answered."""
    with container.uow(Actor.system("subject_access.tasks")) as uow:
        now = uow.clock.now()
        overdue = uow.session.scalars(select(CaseTask).where(CaseTask.status == "open", CaseTask.due_at <= now)
                                      .order_by(CaseTask.due_at, CaseTask.id).limit(batch)).all()
        raised = 0
        for task in overdue:
            _, new = alerts.raise_alert(
                uow=uow, subject_id=task.subject_id, kind=ALERT_TASK_OVERDUE, category="casework",
                severity="medium", occurred_at=task.due_at, dedupe_key=dedupe_key(task),
                evidence={"task_id": str(task.id), "task_kind": task.kind, "target_type": task.target_type,
                          "target_id": str(task.target_id), "due_at": task.due_at.isoformat(),
                          "opened_at": task.created_at.isoformat(), "days_overdue": (now - task.due_at).days})
            raised += new
        uow.commit()
    return OverdueTasks(overdue=len(overdue), raised=raised)
