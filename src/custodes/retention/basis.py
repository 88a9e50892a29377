"""When each subject's legal basis ended: the last of their orders to end or be revoked.

A basis is live while any order is draft, active or suspended and not past its end. A revoked or
ended order's basis stops when its status changed, read from the audit log (the orders table keeps
no such time, and the audit log is the authoritative record of when a change was made), and never
later than the order's own end. A subject with no order never had a basis: the clock runs from
their enrolment.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.audit.models import AuditEntry
from custodes.orders.models import Order
from custodes.subjects.models import Subject

LIVE = ("draft", "active", "suspended")
CLOSED = ("ended", "revoked")


def basis_ends(session: Session, now: datetime) -> dict[uuid.UUID, datetime | None]:
    """subject id -> when their legal basis ended, or None while it is live."""
    orders: dict[uuid.UUID, list[Order]] = {}
    for o in session.scalars(select(Order)):
        orders.setdefault(o.subject_id, []).append(o)
    closed_ids = [str(o.id) for os_ in orders.values() for o in os_ if o.status in CLOSED]
    closed_at: dict[str, datetime] = {}
    if closed_ids:
        changes = session.execute(
            select(AuditEntry.target_id, AuditEntry.at, AuditEntry.detail)
            .where(AuditEntry.target_type == "order", AuditEntry.action == "update",
                   AuditEntry.target_id.in_(closed_ids)).order_by(AuditEntry.seq)).all()
        for target_id, at, detail in changes:
            if "status" in (detail or {}).get("fields", []):
                closed_at[target_id] = at  # the last status change wins
    out: dict[uuid.UUID, datetime | None] = {}
    for subject_id, created_at in session.execute(select(Subject.id, Subject.created_at)).all():
        mine = orders.get(subject_id, [])
        if any(o.status in LIVE and o.ends_at > now for o in mine):
            out[subject_id] = None
        elif not mine:
            out[subject_id] = created_at
        else:
            out[subject_id] = max(min(closed_at.get(str(o.id), o.ends_at), o.ends_at) for o in mine)
    return out
