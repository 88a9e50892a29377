"""Routes for orders and their conditions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from custodes.actor import Role
from custodes.access.deps import Paging, Uow, requires
from custodes.orders import necessity, reviews, service
from custodes.orders.models import (
    ConditionCreate,
    ConditionRead,
    EarlyReviewCreate,
    NecessityCreate,
    NecessityRead,
    OrderCreate,
    OrderRead,
    OrderUpdate,
    ReviewTriggerRead,
)
from custodes.orders.reviews import DueReview, OrderReviewCreate, OrderReviewRead
from custodes.pagination import Page

router = APIRouter(prefix="/v1", tags=["orders"])

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
WRITERS = (Role.CASEWORKER,)


@router.post("/subjects/{subject_id}/orders", response_model=OrderRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def create_order(subject_id: uuid.UUID, data: OrderCreate, uow: Uow) -> OrderRead:
    order = service.create(uow=uow, subject_id=subject_id, data=data)
    uow.commit()
    return OrderRead.model_validate(order)


@router.get("/subjects/{subject_id}/orders", response_model=Page[OrderRead], dependencies=[requires(*READERS)])
def list_orders(subject_id: uuid.UUID, uow: Uow, paging: Paging) -> Page[OrderRead]:
    items, total = service.list_for_subject(uow=uow, subject_id=subject_id, limit=paging.limit, offset=paging.offset)
    uow.commit()
    return Page(items=[OrderRead.model_validate(o) for o in items], total=total, **paging.model_dump())


@router.get("/orders/{order_id}", response_model=OrderRead, dependencies=[requires(*READERS)])
def get_order(order_id: uuid.UUID, uow: Uow) -> OrderRead:
    order = service.get(uow=uow, order_id=order_id)
    uow.commit()
    return OrderRead.model_validate(order)


@router.patch("/orders/{order_id}", response_model=OrderRead, dependencies=[requires(*WRITERS)])
def update_order(order_id: uuid.UUID, data: OrderUpdate, uow: Uow) -> OrderRead:
    order = service.update(uow=uow, order_id=order_id, data=data)
    uow.commit()
    return OrderRead.model_validate(order)


@router.put("/orders/{order_id}/necessity", response_model=NecessityRead, dependencies=[requires(*WRITERS)])
def record_necessity(order_id: uuid.UUID, data: NecessityCreate, uow: Uow) -> NecessityRead:
    """Record (or supersede) the necessity and proportionality assessment; needed before activation."""
    row = necessity.record(uow=uow, order=service.load(uow=uow, order_id=order_id, for_change=True), data=data)
    uow.commit()
    return NecessityRead.model_validate(row)


@router.get("/orders/{order_id}/necessity", response_model=list[NecessityRead], dependencies=[requires(*READERS)])
def necessity_history(order_id: uuid.UUID, uow: Uow) -> list[NecessityRead]:
    order = service.get(uow=uow, order_id=order_id)
    rows = [NecessityRead.model_validate(r) for r in necessity.history(uow=uow, order_id=order.id)]
    uow.commit()
    return rows


@router.post("/orders/{order_id}/early-review", response_model=ReviewTriggerRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def early_review(order_id: uuid.UUID, data: EarlyReviewCreate, uow: Uow) -> ReviewTriggerRead:
    """Medical evidence or a representation received: bring the next review forward, with the reason."""
    order = service.load(uow=uow, order_id=order_id, for_change=True)
    row = necessity.bring_review_forward(uow=uow, order=order, trigger=data.trigger, reason=data.reason)
    uow.commit()
    return ReviewTriggerRead.model_validate(row)


@router.get("/orders/{order_id}/review-triggers", response_model=list[ReviewTriggerRead],
            dependencies=[requires(*READERS)])
def review_triggers(order_id: uuid.UUID, uow: Uow) -> list[ReviewTriggerRead]:
    order = service.load(uow=uow, order_id=order_id)
    return [ReviewTriggerRead.model_validate(r) for r in necessity.triggers(uow=uow, order_id=order.id)]


@router.post("/orders/{order_id}/conditions", response_model=ConditionRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def add_condition(order_id: uuid.UUID, data: ConditionCreate, uow: Uow) -> ConditionRead:
    condition = service.add_condition(uow=uow, order_id=order_id, data=data)
    uow.commit()
    return ConditionRead.model_validate(condition)


@router.get("/orders/{order_id}/conditions", response_model=list[ConditionRead], dependencies=[requires(*READERS)])
def list_conditions(order_id: uuid.UUID, uow: Uow) -> list[ConditionRead]:
    items = service.list_conditions(uow=uow, order_id=order_id)
    uow.commit()
    return [ConditionRead.model_validate(c) for c in items]


@router.get("/conditions/{condition_id}", response_model=ConditionRead, dependencies=[requires(*READERS)])
def get_condition(condition_id: uuid.UUID, uow: Uow) -> ConditionRead:
    return ConditionRead.model_validate(service.load_condition(uow=uow, condition_id=condition_id))


@router.put("/conditions/{condition_id}", response_model=ConditionRead, dependencies=[requires(*WRITERS)])
def replace_condition(condition_id: uuid.UUID, data: ConditionCreate, uow: Uow) -> ConditionRead:
    condition = service.replace_condition(uow=uow, condition_id=condition_id, data=data)
    uow.commit()
    return ConditionRead.model_validate(condition)


@router.delete("/conditions/{condition_id}", status_code=204, dependencies=[requires(*WRITERS)])
def delete_condition(condition_id: uuid.UUID, uow: Uow) -> None:
    service.delete_condition(uow=uow, condition_id=condition_id)
    uow.commit()


@router.get("/order-reviews/due", response_model=Page[DueReview], dependencies=[requires(*READERS)])
def reviews_due(uow: Uow, paging: Paging, within_days: Annotated[int, Query(ge=0, le=365)] = 14) -> Page[DueReview]:
    """Running orders whose quarterly review is overdue or falls due within `within_days`, most overdue first."""
    items, total = reviews.due_orders(uow=uow, within_days=within_days, limit=paging.limit, offset=paging.offset)
    uow.commit()
    return Page(items=items, total=total, **paging.model_dump())


@router.post("/orders/{order_id}/reviews", response_model=OrderReviewRead, status_code=201,
             dependencies=[requires(*WRITERS)])
def record_review(order_id: uuid.UUID, data: OrderReviewCreate, uow: Uow) -> OrderReviewRead:
    """Record a review with its outcome and reasons; the next review falls due one period later."""
    review = reviews.record_review(uow=uow, order_id=order_id, data=data)
    uow.commit()
    return OrderReviewRead.model_validate(review)


@router.get("/orders/{order_id}/reviews", response_model=list[OrderReviewRead], dependencies=[requires(*READERS)])
def list_reviews(order_id: uuid.UUID, uow: Uow) -> list[OrderReviewRead]:
    items = reviews.reviews_of(uow=uow, order_id=order_id)
    uow.commit()
    return [OrderReviewRead.model_validate(r) for r in items]
