"""Quarterly reviews: the orders whose review is due or overdue, and recording one with its outcome and reasons."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Query
from fastapi.responses import Response

from custodes.actor import Role
from custodes.console import web
from custodes.console.caseload import reference
from custodes.orders import reviews
from custodes.orders.reviews import OrderReviewCreate, ReviewOutcome

READERS = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN)
WRITERS = (Role.CASEWORKER,)
OUTCOME_WORDS = {"continue": "Continue as it is", "vary": "Vary the conditions", "end": "End the order",
                 "other": "Other (explain in the reasons)"}
WINDOWS = {0: "overdue or due today", 14: "due within 14 days", 30: "due within 30 days", 90: "due within 90 days"}
router = web.console_router()
web.add_nav("/order-reviews", "Order reviews", READERS)


@router.get("/order-reviews", dependencies=[web.page_requires(*READERS)])
def due(page: web.PageDep, within: Annotated[int, Query(ge=0, le=365)] = 14,
        offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    items, total = reviews.due_orders(uow=page.uow, within_days=within, limit=50, offset=offset)
    page.uow.commit()
    return page.render("order_reviews.html", title="Quarterly reviews", items=items, total=total, within=within,
                       windows=WINDOWS, outcomes=OUTCOME_WORDS, can_record=page.officer.role in WRITERS,
                       reference=reference, offset=offset, limit=50)


@router.post("/order-reviews/{order_id}", dependencies=[web.page_requires(*WRITERS)])
def record(page: web.PageDep, order_id: uuid.UUID, outcome: Annotated[ReviewOutcome, Form()],
           reasons: Annotated[str, Form(min_length=10, max_length=4000)]) -> Response:
    review = reviews.record_review(uow=page.uow, order_id=order_id,
                                   data=OrderReviewCreate(outcome=outcome, reasons=reasons))
    page.uow.commit()
    ended = " The order is now ended." if outcome == "end" else ""
    return page.redirect("/order-reviews", f"Review recorded: {OUTCOME_WORDS[outcome].lower()}.{ended} Next review "
                                           f"due {web.local(review.next_review_due, page.tz, '%d %b %Y')}.")
