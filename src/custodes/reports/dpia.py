"""The DPIA evidence report's figures, each read from the records the system keeps as it works."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custodes.alerts.models import BREACH_CONFIRMED, Alert
from custodes.audit.models import AuditEntry
from custodes.checkins.models import CheckInPrompt
from custodes.devices.models import Assignment, Device
from custodes.grants.models import TrailGrant
from custodes.orders.models import NecessityRecord, Order
from custodes.retention.models import DeletionReceipt, LegalHold
from custodes.reports import fairness
from custodes.retention import service as retention_plan
from custodes.retention.policy import RetentionPolicy
from custodes.review.models import ReviewItem
from custodes.subject_access.models import CaseTask, Representation
from custodes.subject_access.scheduled import ALERT_TASK_OVERDUE

NO_BREACH = ("false_alarm", "explained")
DUE_SOON = timedelta(days=14)


def _active(o: Order, now: datetime) -> bool:
    return o.status == "active" and o.starts_at <= now < o.ends_at


def monitored(session: Session, now: datetime) -> dict[str, Any]:
    orders = list(session.scalars(select(Order)))
    live = [o for o in orders if _active(o, now)]
    kinds = Counter()
    for kind, n in session.execute(
            select(Device.kind, func.count(func.distinct(Assignment.subject_id)))
            .join(Assignment, Assignment.device_id == Device.id)
            .where(Assignment.starts_at <= now, (Assignment.ends_at.is_(None)) | (Assignment.ends_at > now))
            .group_by(Device.kind)):
        kinds[kind] = int(n)
    return {"people": len({o.subject_id for o in live}),
            "by_order_type": dict(Counter(o.legal_basis for o in live)),
            "orders_by_status": dict(Counter(o.status for o in orders)),
            "by_device_kind": dict(kinds)}


def necessity_and_reviews(session: Session, now: datetime) -> dict[str, Any]:
    live = [o for o in session.scalars(select(Order)) if _active(o, now)]
    recorded = set(session.scalars(select(NecessityRecord.order_id).distinct()))
    present = [o for o in live if o.id in recorded and o.less_intrusive_options]
    return {"necessity": {"source": "necessity and proportionality records, with the alternatives considered",
                          "present": len(present), "missing": len(live) - len(present),
                          "with_vulnerability_flags": sum(bool(o.vulnerability_flags) for o in live),
                          "with_health_flags": sum(bool(o.health_flags) for o in live)},
            "reviews": {"overdue": sum(o.next_review_due < now for o in live),
                        "due_within_14_days": sum(now <= o.next_review_due < now + DUE_SOON for o in live)}}


def police_access(session: Session) -> dict[str, Any]:
    by = defaultdict(Counter)
    for purpose, status, n in session.execute(select(TrailGrant.purpose, TrailGrant.status, func.count())
                                              .group_by(TrailGrant.purpose, TrailGrant.status)):
        by[purpose][status] += int(n)
    refused_reads = Counter()
    for (detail,) in session.execute(select(AuditEntry.detail).where(AuditEntry.action == "refuse",
                                                                     AuditEntry.target_type == "trail")):
        refused_reads[(detail or {}).get("reason", "unknown").split(":")[0]] += 1
    ended = Counter()
    for revoked_by, requested_by in session.execute(select(TrailGrant.revoked_by, TrailGrant.requested_by)
                                                    .where(TrailGrant.revoked_at.is_not(None))):
        ended["withdrawn_by_the_officer" if revoked_by == requested_by else "revoked_by_the_owning_agency"] += 1
    return {"requests_by_purpose": {p: {"requested": sum(c.values()), **dict(c)} for p, c in by.items()},
            "revocations": {"total": sum(ended.values()), "revoked_by_the_owning_agency": 0,
                            "withdrawn_by_the_officer": 0, **ended},
            "refused_trail_reads": sum(refused_reads.values()), "refused_reads_by_reason": dict(refused_reads)}


def trail_reads(session: Session) -> dict[str, Any]:
    reads = Counter()
    for purpose, detail in session.execute(select(AuditEntry.purpose, AuditEntry.detail).where(
            AuditEntry.action == "read", AuditEntry.target_type == "trail")):
        reads[((detail or {}).get("role", "not recorded"), purpose or "none")] += 1
    return {"total": sum(reads.values()),
            "by_role_and_purpose": [{"role": r, "purpose": p, "reads": n} for (r, p), n in sorted(reads.items())]}


def retention(session: Session, due: list) -> dict[str, Any]:
    deleted = Counter()
    for data_class, n in session.execute(select(DeletionReceipt.data_class, func.sum(DeletionReceipt.records))
                                         .group_by(DeletionReceipt.data_class)):
        deleted[data_class] = int(n or 0)
    return {"due_now": dict(Counter({str(d.data_class): d.records for d in due if not d.held_by})),
            "on_hold": dict(Counter(str(d.data_class) for d in due if d.held_by)),
            "active_legal_holds": int(session.scalar(select(func.count()).select_from(LegalHold)
                                                     .where(LegalHold.lifted_at.is_(None))) or 0),
            "deleted_records": dict(deleted),
            "receipts": int(session.scalar(select(func.count()).select_from(DeletionReceipt)) or 0)}


def checkins(session: Session) -> dict[str, Any]:
    prompts = Counter(f"{s}:{o or '-'}" for s, o in session.execute(select(CheckInPrompt.status,
                                                                            CheckInPrompt.outcome)))
    reviews = Counter(o or "open" for (o,) in session.execute(select(ReviewItem.outcome)))
    # Why items went to people: the machine's reasons, and the audit sample of verified check-ins.
    by_reason = Counter(f"{r}:{o or 'open'}" for r, o in session.execute(select(ReviewItem.reason,
                                                                                 ReviewItem.outcome)))
    return {"prompts_by_status_and_machine_outcome": dict(prompts), "human_review_outcomes": dict(reviews),
            "review_items_by_reason_and_outcome": dict(by_reason)}


def voice(session: Session, now: datetime) -> dict[str, Any]:
    """Representations and contests, how long people waited for a human answer, and the alerts raised
    when an answer was not given by its deadline."""
    reps = Counter(k for (k,) in session.execute(select(Representation.kind)))
    tasks: dict[str, dict[str, Any]] = {}
    for kind in sorted({k for (k,) in session.execute(select(CaseTask.kind).distinct())}):
        rows = session.execute(select(CaseTask.status, CaseTask.created_at, CaseTask.due_at, CaseTask.decided_at)
                               .where(CaseTask.kind == kind)).all()
        waits = sorted((d - c).total_seconds() / 86400 for _, c, _, d in rows if d is not None)
        tasks[kind] = {"opened": len(rows), "answered": len(waits),
                       "open_overdue": sum(1 for st, _, due, d in rows if d is None and due < now),
                       "answered_late": sum(1 for _, _, due, d in rows if d is not None and d > due),
                       "days_to_answer_median": round(median(waits), 2) if waits else None,
                       "days_to_answer_max": round(waits[-1], 2) if waits else None}
    alerted = Counter((ev or {}).get("task_kind", "unknown") for (ev,) in session.execute(
        select(Alert.evidence).where(Alert.kind == ALERT_TASK_OVERDUE)))
    return {"representations": dict(reps), "tasks": tasks, "overdue_alerts_raised": dict(alerted)}


def proportionality(session: Session, now: datetime) -> dict[str, Any]:
    alerts = list(session.scalars(select(Alert)))
    subject_days = 0.0
    for o in session.scalars(select(Order).where(Order.status.in_(("active", "ended", "revoked", "suspended")))):
        subject_days += max(0.0, (min(o.ends_at, now) - o.starts_at).total_seconds() / 86400)
    resolved = [a for a in alerts if a.outcome]
    acks = sorted((a.acknowledged_at - a.raised_at).total_seconds() for a in alerts if a.acknowledged_at)
    months: dict[str, Counter] = defaultdict(Counter)
    for a in alerts:
        m = a.raised_at.strftime("%Y-%m")
        months[m]["alerts"] += 1
        months[m]["breaches_confirmed"] += a.outcome == BREACH_CONFIRMED
        months[m]["lost_contact"] += a.kind == "device_silent"
    return {
        "alerts": len(alerts), "monitored_subject_days": round(subject_days, 1),
        "alerts_per_subject_per_day": round(len(alerts) / subject_days, 3) if subject_days else None,
        "comparison": "US vendors report about 1.25 alerts per subject per day",
        "resolved": len(resolved),
        "share_resolved_no_breach": round(sum(a.outcome in NO_BREACH for a in resolved) / len(resolved), 3)
        if resolved else None,
        "share_resolved_device_fault": round(sum(a.outcome == "device_fault" for a in resolved) / len(resolved), 3)
        if resolved else None,
        "time_to_acknowledge_s": {"n": len(acks), "median": median(acks) if acks else None,
                                  "p90": acks[int(0.9 * (len(acks) - 1))] if acks else None},
        "compliance_by_month": {m: dict(c) for m, c in sorted(months.items())},
    }


def fairness_summary(rep: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {a: {m: b["comparison"] for m, b in ms.items()} for a, ms in rep["live"].items()}
    if rep["evaluation"]:
        out["evaluation"] = {a: {"threshold_meets_target_in_every_group": b["threshold_meets_target_in_every_group"],
                                 **b["fmr_comparison"]} for a, b in rep["evaluation"]["attributes"].items()}
    return out or {"note": "no consented demographic records and no evaluation given"}


def build(session: Session, now: datetime, policy: RetentionPolicy, faces_eval=None) -> dict[str, Any]:
    due = retention_plan.plan(session, policy, now)
    return {"generated_at": now.isoformat(), "monitored": monitored(session, now),
            "necessity_and_reviews": necessity_and_reviews(session, now),
            "police_access": police_access(session), "trail_reads": trail_reads(session),
            "retention": retention(session, due), "checkins": checkins(session),
            "representations_and_contests": voice(session, now), "proportionality": proportionality(session, now),
            "fairness": fairness_summary(fairness.build(session, t_from=None, t_to=None, faces_eval=faces_eval))}
