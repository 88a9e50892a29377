"""Officers' routes of the person's access and voice: issuing their sign-in, and the task queue."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from custodes.actor import Role
from custodes.access.deps import Paging, Uow, requires
from custodes.audit.models import AuditAction
from custodes.pagination import Page
from custodes.subject_access import service, voice
from custodes.subject_access.models import CredentialIssued, TaskDecide, TaskRead

router = APIRouter(prefix="/v1", tags=["the monitored person"])

CASEWORKERS = (Role.CASEWORKER,)


@router.post("/subjects/{subject_id}/credentials", response_model=CredentialIssued, status_code=201,
             dependencies=[requires(*CASEWORKERS)])
def issue_credentials(subject_id: uuid.UUID, uow: Uow) -> CredentialIssued:
    """Issue (or reissue) the person's own sign-in at enrolment; the password is shown only here."""
    issued = service.issue_credentials(uow=uow, subject_id=subject_id)
    uow.commit()
    return issued


@router.get("/tasks", response_model=Page[TaskRead], dependencies=[requires(*CASEWORKERS)])
def task_queue(uow: Uow, paging: Paging, status: str | None = "open") -> Page[TaskRead]:
    """Contests and representations of your agency's cases, soonest deadline first."""
    items, total = voice.task_queue(uow=uow, limit=paging.limit, offset=paging.offset, status=status or None)
    uow.record(AuditAction.LIST, "case_task", None, detail={"ids": [str(t.id) for t in items]})
    uow.commit()
    return Page(items=[TaskRead.model_validate(t) for t in items], total=total, **paging.model_dump())


@router.get("/tasks/{task_id}", response_model=TaskRead, dependencies=[requires(*CASEWORKERS)])
def get_task(task_id: uuid.UUID, uow: Uow) -> TaskRead:
    task = voice.load_task(uow=uow, task_id=task_id)
    uow.record_read("case_task", task.id)
    uow.commit()
    return TaskRead.model_validate(task)


@router.post("/tasks/{task_id}/decision", response_model=TaskRead, dependencies=[requires(*CASEWORKERS)])
def decide_task(task_id: uuid.UUID, data: TaskDecide, uow: Uow) -> TaskRead:
    """Answer a contest or a representation, with reasons the person will read."""
    task = voice.decide_task(uow=uow, task_id=task_id, data=data)
    uow.commit()
    return TaskRead.model_validate(task)
