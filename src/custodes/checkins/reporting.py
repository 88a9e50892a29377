"""Use cases of in-person reporting: a caseworker moves a person to it (with a reason) or back, and
reporting-centre staff scan a wristband, see who it belongs to, and confirm the person in front of them.

The confirmed scan is the check-in: it answers the open prompt, or the day's reporting requirement.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from custodes.checkins import in_person
from custodes.checkins.models import (
    CheckInAttempt,
    CheckInPrompt,
    InPersonArrangement,
    InPersonCreate,
    InPersonReport,
    ScanConfirm,
    ScanPerson,
)
from custodes.checkins.service import ensure_drawn
from custodes.devices.models import Assignment, Device
from custodes.errors import Conflict, NotFound
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork

EVIDENCE_DAYS = 30
SCAN_PURPOSE = "in-person reporting: wristband scanned at a reporting centre"


def move(*, uow: UnitOfWork, subject_id: uuid.UUID, data: InPersonCreate) -> InPersonArrangement:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    now = uow.clock.now()
    if in_person.active_arrangement(uow=uow, subject_id=subject.id, at=now) is not None:
        raise Conflict("this person already reports in person")
    failures = uow.session.scalar(select(func.count()).select_from(CheckInAttempt).where(
        CheckInAttempt.subject_id == subject.id, CheckInAttempt.failure_to_acquire.is_(True),
        CheckInAttempt.submitted_at >= now - timedelta(days=EVIDENCE_DAYS)))
    row = InPersonArrangement(
        id=uuid.uuid4(), subject_id=subject.id, grounds=data.grounds, reason=data.reason,
        window_start=data.window_start.strftime("%H:%M"), window_end=data.window_end.strftime("%H:%M"),
        evidence={f"failures_to_acquire_last_{EVIDENCE_DAYS}_days": int(failures or 0)}, starts_at=now,
        created_by=uuid.UUID(uow.actor.id) if uow.actor.kind == "user" and uow.actor.id else None)
    uow.session.add(row)
    # Face prompts still to come would ask the person for what they cannot give: withdraw them.
    for prompt in uow.session.scalars(select(CheckInPrompt).where(
            CheckInPrompt.subject_id == subject.id, CheckInPrompt.status == "pending",
            CheckInPrompt.method == "face", CheckInPrompt.closes_at > now)):
        prompt.status = "withdrawn"
    uow.session.flush()
    ensure_drawn(uow=uow, subject=subject, at=now)
    return row


def end(*, uow: UnitOfWork, subject_id: uuid.UUID, reason: str) -> InPersonArrangement:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    row = in_person.active_arrangement(uow=uow, subject_id=subject.id, at=uow.clock.now())
    if row is None:
        raise NotFound("this person does not report in person now")
    row.ended_at, row.end_reason = uow.clock.now(), reason
    return row


def arrangements(*, uow: UnitOfWork, subject_id: uuid.UUID) -> list[InPersonArrangement]:
    subject = subjects.load(uow=uow, subject_id=subject_id)
    return list(uow.session.scalars(select(InPersonArrangement).where(InPersonArrangement.subject_id == subject.id)
                                    .order_by(InPersonArrangement.starts_at)))


def _wearer(uow: UnitOfWork, barcode: str) -> tuple[Device, Subject]:
    """The wristband's current wearer, if this officer may see them; one answer for every refusal."""
    now = uow.clock.now()
    found = uow.session.execute(
        select(Device, Assignment.subject_id).join(Assignment, Assignment.device_id == Device.id)
        .where(Device.barcode == barcode, Device.kind == "wristband", Assignment.starts_at <= now,
               or_(Assignment.ends_at.is_(None), Assignment.ends_at > now))).first()
    try:
        if found is None:
            raise NotFound("")
        return found[0], subjects.load(uow=uow, subject_id=found[1])
    except NotFound:
        raise NotFound(f"no wristband {barcode!r} is issued to a person you may see") from None


def _requirement(uow: UnitOfWork, subject: Subject) -> CheckInPrompt | None:
    """What a report now would answer: today's in-person requirement, else a prompt open now."""
    now = uow.clock.now()
    today = now.astimezone(ZoneInfo(subject.time_zone)).date()
    due = in_person.requirement_for_day(uow=uow, subject_id=subject.id, day=today)
    if due is not None and due.status == "pending" and due.closes_at > now:
        return due
    return uow.session.scalars(select(CheckInPrompt).where(
        CheckInPrompt.subject_id == subject.id, CheckInPrompt.status == "pending",
        CheckInPrompt.opens_at <= now, CheckInPrompt.closes_at > now)).first()


def lookup(*, uow: UnitOfWork, barcode: str) -> ScanPerson:
    device, subject = _wearer(uow, barcode)
    ensure_drawn(uow=uow, subject=subject, at=uow.clock.now())
    uow.record_read("subject", subject.id, purpose=SCAN_PURPOSE, detail={"device_id": str(device.id)})
    due = _requirement(uow, subject)
    return ScanPerson(subject_id=subject.id, full_name=subject.full_name, date_of_birth=subject.date_of_birth,
                      device_id=device.id, barcode=device.barcode, requirement_open=due is not None,
                      requirement_deadline=due.closes_at if due else None)


def confirm(*, uow: UnitOfWork, data: ScanConfirm) -> InPersonReport:
    device, subject = _wearer(uow, data.barcode)
    if subject.id != data.subject_id:
        raise Conflict("this wristband is not issued to the person confirmed; scan again")
    now = uow.clock.now()
    ensure_drawn(uow=uow, subject=subject, at=now)
    due = _requirement(uow, subject)
    report = InPersonReport(id=uuid.uuid4(), subject_id=subject.id, prompt_id=due.id if due else None,
                            device_id=device.id, centre=data.centre, confirmed_by=uuid.UUID(uow.actor.id),
                            reported_at=now, note=data.note)
    uow.session.add(report)
    if due is not None:
        # A human confirmed the person: not a machine outcome, so `outcome` stays empty.
        due.status, due.reason, due.decided_at = in_person.REPORTED, "reported_in_person", now
        due.decision = {"method": "in_person", "report_id": str(report.id), "centre": data.centre}
    return report
