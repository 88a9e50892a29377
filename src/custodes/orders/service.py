"""Use cases on orders and conditions, scoped through the subject they belong to."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from custodes.subjects.scope import load_through_subject
from custodes.audit.models import AuditAction
from custodes.errors import Conflict, Invalid, NotFound
from custodes.orders import necessity
from custodes.orders.models import (
    REVIEW_EVERY_DAYS,
    Condition,
    ConditionCreate,
    Order,
    OrderCreate,
    OrderUpdate,
)
from custodes.orders.conditions import Unevaluable, rule_set
from custodes.pagination import paged
from custodes.subjects import service as subjects
from custodes.subjects.models import Subject
from custodes.uow import UnitOfWork


def load(*, uow: UnitOfWork, order_id: uuid.UUID, for_change: bool = False) -> Order:
    return load_through_subject(uow, Order, order_id, "order", for_change=for_change)


def get(*, uow: UnitOfWork, order_id: uuid.UUID) -> Order:
    # Orders carry health and vulnerability flags: reading one is audited like the subject record.
    order = load(uow=uow, order_id=order_id)
    uow.record_read("order", order.id)
    return order


def create(*, uow: UnitOfWork, subject_id: uuid.UUID, data: OrderCreate) -> Order:
    subject = subjects.load(uow=uow, subject_id=subject_id, for_change=True)
    order = Order(id=uuid.uuid4(), subject_id=subject.id, created_at=uow.clock.now(),
                  review_every_days=REVIEW_EVERY_DAYS,
                  next_review_due=data.starts_at + timedelta(days=REVIEW_EVERY_DAYS),
                  **data.model_dump(mode="json", exclude={"starts_at", "ends_at", "necessity"}),
                  starts_at=data.starts_at, ends_at=data.ends_at)
    uow.session.add(order)
    if data.necessity is not None:
        necessity.record(uow=uow, order=order, data=data.necessity)
    if order.status == "active":
        necessity.require_for_activation(uow=uow, order=order)
    return order


def list_for_subject(*, uow: UnitOfWork, subject_id: uuid.UUID, limit: int, offset: int) -> tuple[list[Order], int]:
    subject = subjects.load(uow=uow, subject_id=subject_id)
    q = select(Order).where(Order.subject_id == subject.id).order_by(Order.starts_at.desc(), Order.id)
    items, total = paged(uow.session, q, limit, offset)
    uow.record(AuditAction.LIST, "order", None, detail={"subject_id": str(subject.id),
                                                        "ids": [str(o.id) for o in items]})
    return items, total


def update(*, uow: UnitOfWork, order_id: uuid.UUID, data: OrderUpdate) -> Order:
    order = load(uow=uow, order_id=order_id, for_change=True)
    was_active = order.status == "active"
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"reviewed", "ends_at"})
    for key, value in changes.items():
        if value is None:
            raise Invalid.field(key, "may not be null")
        setattr(order, key, value)
    if data.ends_at is not None:
        if data.ends_at <= order.starts_at:
            raise Invalid.field("ends_at", "end must be after start")
        order.ends_at = data.ends_at
    if data.reviewed:
        order.next_review_due = uow.clock.now() + timedelta(days=order.review_every_days)
    if order.status == "active" and not was_active:
        necessity.require_for_activation(uow=uow, order=order)
    return order


def add_condition(*, uow: UnitOfWork, order_id: uuid.UUID, data: ConditionCreate) -> Condition:
    order = load(uow=uow, order_id=order_id, for_change=True)
    spec = data.spec
    existing = conditions_of(uow=uow, order=order)
    if spec.kind == "curfew":
        zones = [c.spec.get("name") for c in existing if c.kind == "zone" and c.spec.get("zone_type") == "inclusion"]
        if spec.zone_name and spec.zone_name not in zones:
            raise Invalid.field("spec.zone_name", f"no inclusion zone named {spec.zone_name!r} on this order")
        if not spec.zone_name:  # a curfew is judged against one place: name it now, once
            if len(zones) != 1:
                raise Invalid.field("spec.zone_name", "a curfew needs an inclusion zone: add one to the order first"
                                    if not zones else "this order has several inclusion zones: name the curfew's")
            spec = spec.model_copy(update={"zone_name": zones[0]})
    if spec.kind == "check_in_policy" and any(c.kind == "check_in_policy" for c in existing):
        raise Invalid.field("spec.kind", "this order already has a check-in policy; update or delete it")
    condition = Condition(id=uuid.uuid4(), order_id=order.id, kind=spec.kind, spec=spec.model_dump(mode="json"),
                          created_at=uow.clock.now(), revision=1)
    _ensure_evaluable(uow, order, [*existing, condition], condition)
    uow.session.add(condition)
    return condition


def _ensure_evaluable(uow: UnitOfWork, order: Order, after: list[Condition], changed: Condition | None,
                      old_spec: dict | None = None) -> None:
    """Build the rule set the order would have after the change: a condition the rules engine
    could not judge is refused now, naming the field, rather than stored and silently dropped."""
    tz = uow.session.scalar(select(Subject.time_zone).where(Subject.id == order.subject_id)) or "UTC"
    try:
        rule_set(tz, [(str(c.id), c.spec) for c in after])
    except Unevaluable as exc:
        if changed is None:  # a delete that leaves another condition unjudgeable
            raise Conflict(f"{exc.message}: condition {exc.condition_id} needs the condition being deleted") from None
        if exc.condition_id == str(changed.id):
            raise Invalid.field(exc.field, exc.message) from None
        new = changed.spec
        field = next((f"spec.{k}" for k in ("name", "zone_type") if old_spec and old_spec.get(k) != new.get(k)), "spec")
        raise Invalid.field(field, f"condition {exc.condition_id} would no longer be judged: {exc.message}") from None


def conditions_of(*, uow: UnitOfWork, order: Order) -> list[Condition]:
    return list(uow.session.scalars(select(Condition).where(Condition.order_id == order.id)
                                    .order_by(Condition.created_at, Condition.id)))


def list_conditions(*, uow: UnitOfWork, order_id: uuid.UUID) -> list[Condition]:
    order = load(uow=uow, order_id=order_id)
    uow.record(AuditAction.LIST, "condition", None, detail={"order_id": str(order.id)})
    return conditions_of(uow=uow, order=order)


def load_condition(*, uow: UnitOfWork, condition_id: uuid.UUID, for_change: bool = False) -> Condition:
    condition = uow.session.get(Condition, condition_id)
    if condition is None:
        raise NotFound(f"condition {condition_id} not found")
    try:
        load(uow=uow, order_id=condition.order_id, for_change=for_change)
    except NotFound:
        raise NotFound(f"condition {condition_id} not found") from None
    return condition


def replace_condition(*, uow: UnitOfWork, condition_id: uuid.UUID, data: ConditionCreate) -> Condition:
    condition = load_condition(uow=uow, condition_id=condition_id, for_change=True)
    if data.spec.kind != condition.kind:
        raise Invalid.field("spec.kind", f"a {condition.kind} condition can only be replaced by another")
    order = load(uow=uow, order_id=condition.order_id)
    old_spec = condition.spec
    spec = data.spec
    if spec.kind == "curfew" and not spec.zone_name:
        spec = spec.model_copy(update={"zone_name": old_spec.get("zone_name")})
    new = Condition(id=condition.id, order_id=condition.order_id, kind=condition.kind,
                    spec=spec.model_dump(mode="json"))
    others = [c for c in conditions_of(uow=uow, order=order) if c.id != condition.id]
    _ensure_evaluable(uow, order, [*others, new], new, old_spec)
    condition.spec = new.spec
    condition.revision += 1  # the rules engine keys its cache on this: every worker sees the edit at once
    return condition


def delete_condition(*, uow: UnitOfWork, condition_id: uuid.UUID) -> None:
    condition = load_condition(uow=uow, condition_id=condition_id, for_change=True)
    order = load(uow=uow, order_id=condition.order_id)
    others = [c for c in conditions_of(uow=uow, order=order) if c.id != condition.id]
    _ensure_evaluable(uow, order, others, None)
    uow.session.delete(condition)
