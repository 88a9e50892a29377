"""The subject access export: every class of data held about the signed-in person, and nothing of
anyone else.

Judgements made here, for the reasons given:
- Officers' identities (user ids and names) are left out: they are the staff's personal data.
  Who looked at the data is given by agency and purpose, as the law asks (the recipients).
- Face photos and templates are described, not included: a template is a security artefact that
  means nothing to a person and could be replayed against the matcher, and photos are given on
  request through the caseworker (who can hand them over in person), so a stolen sign-in cannot
  carry off a person's face.
- Audit entries are given for the person's own records only, without their free-form detail
  (an officer's list entry names other people's ids).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from custodes.access.models import Agency
from custodes.alerts.models import Alert
from custodes.audit.models import AuditAction, AuditEntry
from custodes.checkins.models import (
    CheckInAttempt,
    CheckInPrompt,
    FaceEnrolment,
    FacePhoto,
    InPersonArrangement,
    InPersonReport,
)
from custodes.devices.models import Assignment, Device
from custodes.orders.models import Condition, NecessityRecord, Order, ReviewTrigger
from custodes.review.models import ReviewDecision, ReviewItem
from custodes.subject_access.models import CaseTask, Representation, SubjectCredential
from custodes.subject_access.service import check_in_words, me
from custodes.subject_access.texts import language_for
from custodes.subjects.models import SubjectShare
from custodes.telemetry import trail
from custodes.telemetry.models import MonitorState, TelemetryBatch
from custodes.uow import UnitOfWork

DATA_CLASSES = ("subject", "credentials", "orders", "conditions", "necessity_records", "review_triggers",
                "devices", "raw_telemetry", "trail", "rules_state", "check_ins", "in_person", "reviews", "alerts",
                "representations", "tasks", "face_data", "audit")
_STAFF = {"acknowledged_by", "resolved_by", "recorded_by", "created_by", "confirmed_by", "decided_by", "issued_by",
          "ended_by", "first_reviewer_id", "second_reviewer_id", "reviewer_id", "password_hash", "attachment",
          "photo_sealed", "template_sealed", "secret_sealed", "secret_fingerprint", "raw", "fixes", "data"}


def _row(obj: Any, drop: set[str] = frozenset()) -> dict[str, Any]:
    out = {}
    for col in obj.__table__.columns:
        if col.key in _STAFF or col.key in drop:
            continue
        v = getattr(obj, col.key)
        out[col.key] = v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
    return out


def _all(uow: UnitOfWork, q) -> list:
    return list(uow.session.scalars(q))


def gather(*, uow: UnitOfWork) -> dict[str, Any]:
    subject = me(uow=uow)
    sid = subject.id
    lang = language_for(subject.preferred_language)
    s = uow.session
    agencies = {a.id: a.name for a in s.scalars(select(Agency))}
    orders = _all(uow, select(Order).where(Order.subject_id == sid).order_by(Order.starts_at))
    order_ids = [o.id for o in orders]
    conditions = _all(uow, select(Condition).where(Condition.order_id.in_(order_ids))) if order_ids else []
    necessity = _all(uow, select(NecessityRecord).where(NecessityRecord.order_id.in_(order_ids))) if order_ids else []
    triggers = _all(uow, select(ReviewTrigger).where(ReviewTrigger.order_id.in_(order_ids))) if order_ids else []
    assignments = _all(uow, select(Assignment).where(Assignment.subject_id == sid).order_by(Assignment.starts_at))
    devices = {d.id: d for d in s.scalars(select(Device).where(Device.id.in_([a.device_id for a in assignments])))}
    batches = []
    for a in assignments:  # raw uploads of the person's devices while they wore them
        q = select(TelemetryBatch).where(TelemetryBatch.device_id == a.device_id,
                                         TelemetryBatch.received_at >= a.starts_at)
        if a.ends_at is not None:
            q = q.where(TelemetryBatch.received_at < a.ends_at)
        batches += [{**_row(b, {"signature"}), "raw_bytes": len(b.raw)} for b in s.scalars(q.order_by(TelemetryBatch.seq))]
    points = trail.read(s, sid, datetime(1970, 1, 1, tzinfo=UTC), uow.clock.now() + timedelta(days=1))
    prompts = _all(uow, select(CheckInPrompt).where(CheckInPrompt.subject_id == sid,
                                                    CheckInPrompt.opens_at <= uow.clock.now())
                   .order_by(CheckInPrompt.opens_at))
    attempts = _all(uow, select(CheckInAttempt).where(CheckInAttempt.subject_id == sid)
                    .order_by(CheckInAttempt.submitted_at))
    items = _all(uow, select(ReviewItem).where(ReviewItem.subject_id == sid).order_by(ReviewItem.created_at))
    decisions = _all(uow, select(ReviewDecision).where(ReviewDecision.item_id.in_([i.id for i in items]))
                     .order_by(ReviewDecision.decided_at)) if items else []
    alerts = _all(uow, select(Alert).where(Alert.subject_id == sid).order_by(Alert.raised_at))
    representations = _all(uow, select(Representation).where(Representation.subject_id == sid))
    tasks = _all(uow, select(CaseTask).where(CaseTask.subject_id == sid).order_by(CaseTask.created_at))
    arrangements = _all(uow, select(InPersonArrangement).where(InPersonArrangement.subject_id == sid))
    reports = _all(uow, select(InPersonReport).where(InPersonReport.subject_id == sid))
    enrolments = _all(uow, select(FaceEnrolment).where(FaceEnrolment.subject_id == sid))
    photos = _all(uow, select(FacePhoto).where(FacePhoto.subject_id == sid))
    creds = _all(uow, select(SubjectCredential).where(SubjectCredential.subject_id == sid))
    shares = _all(uow, select(SubjectShare).where(SubjectShare.subject_id == sid))
    state = s.get(MonitorState, sid)

    own_ids = {str(sid)} | {str(x.id) for group in (orders, conditions, necessity, triggers, assignments, prompts,
                                                       attempts, items, decisions, alerts, representations, tasks,
                                                       arrangements, reports, enrolments, photos, creds, shares)
                            for x in group}
    audit = []
    ids = sorted(own_ids)
    for i in range(0, len(ids), 500):
        audit += s.scalars(select(AuditEntry).where(AuditEntry.target_id.in_(ids[i:i + 500]))).all()
    audit.sort(key=lambda e: e.seq)
    # Every read of the person's case by someone else also names their id as target (record_read).
    reviewer_no: dict[uuid.UUID, int] = {}
    return {
        "generated_at": uow.clock.now().isoformat(), "subject_id": str(sid), "language": lang,
        "data_classes": list(DATA_CLASSES),
        "subject": {**_row(subject), "agency": agencies.get(subject.agency_id),
                    "shared_with": [agencies.get(x.agency_id) for x in shares]},
        "credentials": [_row(c) for c in creds],
        "orders": [_row(o) for o in orders],
        "conditions": [_row(c) for c in conditions],
        "necessity_records": [_row(n) for n in necessity],
        "review_triggers": [_row(t) for t in triggers],
        "devices": [{**_row(a), "device": _row(devices[a.device_id], {"agency_id"})} for a in assignments],
        "raw_telemetry": batches,
        "trail": [{"at": p.at.isoformat(), "lat": p.lat, "lon": p.lon, "accuracy_m": p.accuracy_m,
                   "source": p.source, "speed_mps": p.speed_mps} for p in points],
        "rules_state": None if state is None else {"state": state.state, "updated_at": state.updated_at.isoformat()},
        "check_ins": [{**_row(p), "in_plain_words": check_in_words(lang, p),
                       "attempts": [_row(a, {"probe_photo_id"}) for a in attempts if a.prompt_id == p.id]}
                      for p in prompts],
        "in_person": {"arrangements": [_row(a) for a in arrangements], "reports": [_row(r) for r in reports]},
        "reviews": [{**_row(i), "decisions": [
            {**_row(d), "reviewer": f"reviewer {reviewer_no.setdefault(d.reviewer_id, len(reviewer_no) + 1)}"}
            for d in decisions if d.item_id == i.id]} for i in items],
        "alerts": [_row(a) for a in alerts],
        "representations": [{**_row(r), "attachment_base64": base64.b64encode(r.attachment).decode()
                             if r.attachment else None} for r in representations],
        "tasks": [_row(t) for t in tasks],
        "face_data": {
            "statement": "Your face photos and templates are described here, not included. Ask your caseworker "
                         "for copies of your photos.",
            "enrolments": [_row(e, {"quality"}) for e in enrolments],
            "photos": [{**_row(p), "held": p.photo_sealed is not None} for p in photos]},
        "audit": [{"seq": e.seq, "at": e.at.isoformat(), "action": e.action, "target_type": e.target_type,
                   "target_id": e.target_id, "purpose": e.purpose, "by": _who(e, agencies)} for e in audit],
    }


def _who(e: AuditEntry, agencies: dict[uuid.UUID, str]) -> str:
    if e.actor_kind == "user":
        return f"an officer of {agencies.get(e.agency_id, 'an agency')}"
    return {"subject": "you", "device": "your device", "system": "the system"}.get(e.actor_kind, e.actor_kind)


def export(*, uow: UnitOfWork, form: str) -> dict[str, Any]:
    data = gather(uow=uow)
    uow.record(AuditAction.EXPORT, "subject", data["subject_id"], purpose="subject access request",
               detail={"format": form, "counts": {k: _count(data[k]) for k in DATA_CLASSES}})
    return data


def _count(v: Any) -> int:
    if isinstance(v, list):
        return len(v)
    if isinstance(v, dict):
        return sum(len(x) for x in v.values() if isinstance(x, list)) or 1
    return int(v is not None)
