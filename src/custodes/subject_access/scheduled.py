"""The person's voice, periodic job: a contest or representation still unanswered at its deadline
raises an alert to the owning caseworkers, exactly once per task (the dedupe key is the task's)."""

from __future__ import annotations

from datetime import datetime

from custodes.alerts import overdue
from custodes.alerts.overdue import DeadlineAlert, Overdue
from custodes.subject_access.models import CaseTask

ALERT_TASK_OVERDUE = "task_overdue"


def dedupe_key(task: CaseTask) -> str:
    return f"{ALERT_TASK_OVERDUE}:{task.id}"


def _alert(task: CaseTask, now: datetime) -> DeadlineAlert:
    return DeadlineAlert(ALERT_TASK_OVERDUE, dedupe_key(task), task.due_at, {
        "task_id": str(task.id), "task_kind": task.kind, "target_type": task.target_type,
        "target_id": str(task.target_id), "due_at": task.due_at.isoformat(),
        "opened_at": task.created_at.isoformat(), "days_overdue": (now - task.due_at).days})


def task_overdue_tick(container, batch: int = 1000) -> Overdue:
    """One pass at the container clock's now over every open task past its deadline. A task answered
    before the pass is not open, so it raises nothing, however late it was answered."""
    return overdue.tick(container, actor="subject_access.tasks", model=CaseTask, deadline=CaseTask.due_at,
                        where=CaseTask.status == "open", alert_for=_alert, batch=batch)
