"""The person's voice: representations (with an optional attachment) and contested decisions, each
a task for a human with a deadline, answered with a decision and reasons the person can read.

A representation (or medical evidence) also brings every active order's quarterly review forward.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select

from custodes.subjects.scope import load_through_subject, subject_owned, subject_visible
from custodes.alerts.models import Alert
from custodes.checkins.models import CheckInPrompt, InPersonArrangement
from custodes.errors import Conflict, Invalid, NotFound
from custodes.orders import necessity
from custodes.orders.models import Order
from custodes.pagination import paged
from custodes.review.models import ReviewItem
from custodes.subject_access.models import CaseTask, ContestCreate, Representation, TaskDecide
from custodes.subject_access.service import me
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

CONTEST_ANSWER_DAYS = 14
REPRESENTATION_ANSWER_DAYS = 28
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Sniffed from the bytes, never taken from the client's word: PDF, JPEG, PNG or plain text.
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
_CONTESTABLE = {"check_in": CheckInPrompt, "alert": Alert, "review_item": ReviewItem,
                "in_person_arrangement": InPersonArrangement}


def attachment_type(data: bytes) -> str:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.field("attachment", "send a PDF, a JPEG or PNG image, or plain UTF-8 text") from None
    if "\x00" in text:
        raise Invalid.field("attachment", "send a PDF, a JPEG or PNG image, or plain UTF-8 text")
    return "text/plain"


def _task(uow: UnitOfWork, subject: Subject, kind: str, target_type: str, target_id: uuid.UUID, grounds: str,
          days: int) -> CaseTask:
    now = uow.clock.now()
    task = CaseTask(id=uuid.uuid4(), subject_id=subject.id, kind=kind, target_type=target_type, target_id=target_id,
                    grounds=grounds, status="open", created_at=now, due_at=now + timedelta(days=days))
    uow.session.add(task)
    uow.publish("task.opened", {"task_id": str(task.id), "subject_id": str(subject.id), "kind": kind,
                                "agency_id": str(subject.agency_id), "due_at": task.due_at.isoformat()})
    return task


def represent(*, uow: UnitOfWork, kind: str, text: str, attachment: bytes | None,
              attachment_name: str | None) -> tuple[Representation, CaseTask]:
    subject = me(uow=uow)
    if not 3 <= len(text.strip()) <= 10_000:
        raise Invalid.field("text", "write between 3 and 10,000 characters")
    if kind not in ("representation", "medical_evidence"):
        raise Invalid.field("kind", "kind is representation or medical_evidence")
    row = Representation(id=uuid.uuid4(), subject_id=subject.id, kind=kind, text=text.strip(),
                         submitted_at=uow.clock.now())
    if attachment:
        if len(attachment) > MAX_ATTACHMENT_BYTES:
            raise Invalid.field("attachment", f"the attachment is larger than {MAX_ATTACHMENT_BYTES // 2**20} MiB")
        row.attachment, row.attachment_type = attachment, attachment_type(attachment)
        row.attachment_size, row.attachment_sha256 = len(attachment), hashlib.sha256(attachment).hexdigest()
        row.attachment_name = (attachment_name or "attachment")[-200:]
    uow.session.add(row)
    task = _task(uow, subject, "representation", "representation", row.id, row.text, REPRESENTATION_ANSWER_DAYS)
    for order in uow.session.scalars(select(Order).where(Order.subject_id == subject.id, Order.status == "active")):
        necessity.bring_review_forward(uow=uow, order=order, trigger=kind, source_id=row.id,
                                       reason=f"{kind.replace('_', ' ')} received from the person ({row.id})")
    return row, task


def contest(*, uow: UnitOfWork, data: ContestCreate) -> CaseTask:
    subject = me(uow=uow)
    model = _CONTESTABLE[data.target_type]
    try:  # the decision must be about this person: the scope says so, not the id they sent
        load_through_subject(uow, model, data.target_id, data.target_type.replace("_", " "))
    except NotFound:
        raise NotFound(f"{data.target_type} {data.target_id} not found") from None
    already = uow.session.scalars(select(CaseTask).where(
        CaseTask.subject_id == subject.id, CaseTask.kind == "contest", CaseTask.target_id == data.target_id,
        CaseTask.status == "open")).first()
    if already is not None:
        raise Conflict("this decision is already contested and waiting for an answer")
    return _task(uow, subject, "contest", data.target_type, data.target_id, data.grounds.strip(), CONTEST_ANSWER_DAYS)


def my_tasks(*, uow: UnitOfWork) -> list[CaseTask]:
    return list(uow.session.scalars(select(CaseTask).join(Subject, Subject.id == CaseTask.subject_id)
                                    .where(subject_visible(uow.actor)).order_by(CaseTask.created_at.desc())))


def my_representations(*, uow: UnitOfWork) -> list[Representation]:
    return list(uow.session.scalars(select(Representation).join(Subject, Subject.id == Representation.subject_id)
                                    .where(subject_visible(uow.actor)).order_by(Representation.submitted_at.desc())))


# -- the caseworkers' side -----------------------------------------------------------------------

def task_queue(*, uow: UnitOfWork, limit: int, offset: int, status: str | None = "open") -> tuple[list[CaseTask], int]:
    """Tasks of the cases this officer's agency owns, soonest deadline first."""
    q = (select(CaseTask).join(Subject, Subject.id == CaseTask.subject_id).where(subject_owned(uow.actor))
         .order_by(CaseTask.due_at, CaseTask.id))
    if status:
        q = q.where(CaseTask.status == status)
    return paged(uow.session, q, limit, offset)


def load_task(*, uow: UnitOfWork, task_id: uuid.UUID, for_change: bool = False) -> CaseTask:
    return load_through_subject(uow, CaseTask, task_id, "task", for_change=for_change)


def decide_task(*, uow: UnitOfWork, task_id: uuid.UUID, data: TaskDecide) -> CaseTask:
    task = load_task(uow=uow, task_id=task_id, for_change=True)
    if task.status != "open":
        raise Conflict(f"this task is already {task.status}")
    task.status, task.decision, task.reason = "decided", data.decision, data.reason
    task.decided_at, task.decided_by = uow.clock.now(), uuid.UUID(uow.actor.id)
    uow.publish("task.decided", {"task_id": str(task.id), "subject_id": str(task.subject_id),
                                 "decision": data.decision})
    return task
