"""Protected people and proximity conditions, as officers manage them.

A protected person is registered by a caseworker of the agency that holds their phone, with the
consent they gave; withdrawing that consent deletes the one position kept and stops every rule
that names them. A proximity condition on a monitored person's order names a protected person of
the same agency and a radius. Nothing here returns a position: officers see that a condition
exists and, when it is breached, the distance in the alert.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from custodes.audit.models import AuditAction
from custodes.devices import service as devices
from custodes.devices.models import Assignment, Device
from custodes.errors import Conflict, NotFound
from custodes.orders import service as orders
from custodes.orders.models import Order
from custodes.pagination import paged
from custodes.proximity.models import (
    ConsentWithdrawal,
    ProtectedPerson,
    ProtectedPersonCreate,
    ProtectedPosition,
    ProximityCondition,
    ProximityConditionCreate,
)
from custodes.uow import UnitOfWork


def _scope(uow: UnitOfWork):
    return ProtectedPerson.id.is_not(None) if uow.actor.kind == "system" else \
        ProtectedPerson.agency_id == uow.actor.agency_id


def load(*, uow: UnitOfWork, protected_id: uuid.UUID, for_change: bool = False) -> ProtectedPerson:
    """A protected person of the actor's agency; any other is 404, as if it did not exist."""
    q = select(ProtectedPerson).where(ProtectedPerson.id == protected_id, _scope(uow))
    row = uow.session.scalars(q.with_for_update() if for_change else q).first()
    if row is None:
        raise NotFound(f"protected person {protected_id} not found")
    return row


def get(*, uow: UnitOfWork, protected_id: uuid.UUID) -> ProtectedPerson:
    row = load(uow=uow, protected_id=protected_id)
    uow.record_read("protected_person", row.id)
    return row


def list_people(*, uow: UnitOfWork, limit: int, offset: int) -> tuple[list[ProtectedPerson], int]:
    rows, total = paged(uow.session, select(ProtectedPerson).where(_scope(uow))
                        .order_by(ProtectedPerson.created_at, ProtectedPerson.id), limit, offset)
    uow.record(AuditAction.LIST, "protected_person", None, detail={"returned": len(rows)})
    return rows, total


def register(*, uow: UnitOfWork, data: ProtectedPersonCreate) -> ProtectedPerson:
    """The phone must be the agency's, worn by nobody now or later, and not already someone's."""
    device = devices.load(uow=uow, device_id=data.device_id)
    # Locked: two registrations (or a registration and an assignment) of one phone at once see each other.
    uow.session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    now = uow.clock.now()
    if device.kind != "phone":
        raise Conflict(f"this device is a {device.kind}: register the protected person's own phone as a device "
                       "of kind phone")
    if data.consent_given_at > now:
        raise Conflict("consent cannot be recorded as given in the future")
    if uow.session.scalar(select(ProtectedPerson.id).where(ProtectedPerson.device_id == device.id)) is not None:
        raise Conflict("this device is already a protected person's phone")
    worn = select(Assignment.id).where(Assignment.device_id == device.id,
                                       (Assignment.ends_at.is_(None)) | (Assignment.ends_at > now))
    if uow.session.scalar(worn) is not None:
        # Its fixes would stop feeding the wearer's trail: a protected phone is worn by nobody.
        raise Conflict("this device is assigned to a monitored person: end the assignment or register another phone")
    row = ProtectedPerson(id=uuid.uuid4(), agency_id=device.agency_id, device_id=device.id,
                          consent_given_at=data.consent_given_at, consent_recorded_by=uow.actor.name or "unknown",
                          consent_note=data.consent_note, created_at=now)
    uow.session.add(row)
    return row


def withdraw_consent(*, uow: UnitOfWork, protected_id: uuid.UUID, data: ConsentWithdrawal) -> ProtectedPerson:
    """Consent ends: the position kept is deleted now, and no rule reads this person again."""
    row = load(uow=uow, protected_id=protected_id, for_change=True)
    if row.consent_withdrawn_at is not None:
        raise Conflict(f"consent was already withdrawn at {row.consent_withdrawn_at.isoformat()}")
    row.consent_withdrawn_at = uow.clock.now()
    uow.session.execute(delete(ProtectedPosition).where(ProtectedPosition.protected_id == row.id))
    # A bulk delete passes no ORM event, so the unit of work would not audit it by itself.
    uow.record(AuditAction.DELETE, "protected_position", row.id, detail={"reason": "consent withdrawn",
                                                                         "note": data.note})
    return row


def add_condition(*, uow: UnitOfWork, order_id: uuid.UUID, data: ProximityConditionCreate) -> ProximityCondition:
    order = orders.load(uow=uow, order_id=order_id, for_change=True)
    uow.session.execute(select(Order.id).where(Order.id == order.id).with_for_update())  # one condition per pair
    person = load(uow=uow, protected_id=data.protected_id)
    if person.consent_withdrawn_at is not None:
        raise Conflict("this protected person has withdrawn their consent")
    if uow.session.scalar(select(Assignment.id).where(Assignment.device_id == person.device_id,
                                                      Assignment.subject_id == order.subject_id)) is not None:
        raise Conflict("the protected person's phone was worn by this order's subject")
    if uow.session.scalar(select(ProximityCondition.id).where(ProximityCondition.order_id == order.id,
                                                              ProximityCondition.protected_id == person.id)):
        raise Conflict("this order already has a proximity condition for this protected person: delete it first")
    row = ProximityCondition(id=uuid.uuid4(), order_id=order.id, protected_id=person.id, radius_m=data.radius_m,
                             max_skew_s=data.max_skew_s, min_dwell_s=data.min_dwell_s, created_at=uow.clock.now())
    uow.session.add(row)
    return row


def conditions(*, uow: UnitOfWork, order_id: uuid.UUID) -> list[ProximityCondition]:
    order = orders.load(uow=uow, order_id=order_id)
    uow.record(AuditAction.LIST, "proximity_condition", None, detail={"order_id": str(order.id)})
    return list(uow.session.scalars(select(ProximityCondition).where(ProximityCondition.order_id == order.id)
                                    .order_by(ProximityCondition.created_at, ProximityCondition.id)))


def delete_condition(*, uow: UnitOfWork, condition_id: uuid.UUID) -> None:
    row = uow.session.get(ProximityCondition, condition_id)
    try:
        if row is None:
            raise NotFound("")
        orders.load(uow=uow, order_id=row.order_id, for_change=True)
    except NotFound:
        raise NotFound(f"proximity condition {condition_id} not found") from None
    uow.session.delete(row)

