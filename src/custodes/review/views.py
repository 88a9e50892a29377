"""Routes for the review queue: list, see both faces side by side, decide, and the ground truth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Paging, Uow, requires
from custodes.pagination import Page
from custodes.review import service
from custodes.review.models import (
    ErrorRateRow,
    GroundTruthRow,
    ReviewDecisionCreate,
    ReviewItemDetail,
    ReviewItemRead,
)
from custodes.review.ports import evidence_of

router = APIRouter(prefix="/v1/review", tags=["review"])

DECIDERS = (Role.REVIEWER,)
VIEWERS = (Role.REVIEWER, Role.CASEWORKER)
MONITORS = (Role.REVIEWER, Role.AUDITOR, Role.ADMIN)  # scores and labels only, never faces
ItemStatus = Annotated[str | None, Query(pattern="^(open|awaiting_second|closed)$")]


@router.get("/items", response_model=Page[ReviewItemRead], dependencies=[requires(*VIEWERS)])
def list_items(uow: Uow, paging: Paging, status: ItemStatus = None) -> Page[ReviewItemRead]:
    items, total = service.list_items(uow=uow, limit=paging.limit, offset=paging.offset, status=status)
    uow.commit()
    return Page(items=[ReviewItemRead.model_validate(i) for i in items], total=total, **paging.model_dump())


@router.get("/items/{item_id}", response_model=ReviewItemDetail, dependencies=[requires(*VIEWERS)])
def get_item(item_id: uuid.UUID, uow: Uow, container: ContainerDep) -> ReviewItemDetail:
    """The decision record (score, threshold, target FMR, quality, liveness, model version), the
    decisions so far, and the ids of the reference photos and the probe to show side by side."""
    answer = service.detail(uow=uow, evidence=evidence_of(container), item_id=item_id)
    uow.commit()
    return answer


@router.get("/items/{item_id}/photos/{photo_id}", dependencies=[requires(*VIEWERS)], response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def item_photo(item_id: uuid.UUID, photo_id: uuid.UUID, uow: Uow, container: ContainerDep,
               purpose: Annotated[str, Query(min_length=3, max_length=200)] = "check-in review") -> Response:
    """One face of the item (reference or probe); every fetch is an audited read."""
    data, kind = service.face_image(uow=uow, evidence=evidence_of(container), item_id=item_id,
                                    photo_id=photo_id, purpose=purpose)
    uow.commit()
    return Response(data, media_type=kind, headers={"Cache-Control": "no-store"})


@router.post("/items/{item_id}/decisions", response_model=ReviewItemRead, dependencies=[requires(*DECIDERS)])
def decide(item_id: uuid.UUID, data: ReviewDecisionCreate, uow: Uow) -> ReviewItemRead:
    """Same person / different person / unusable, with a reason. "Different person" takes effect
    only when a second, different reviewer agrees."""
    item = service.decide(uow=uow, item_id=item_id, data=data)
    uow.commit()
    return ReviewItemRead.model_validate(item)


@router.get("/ground-truth", response_model=Page[GroundTruthRow], dependencies=[requires(*MONITORS)])
def ground_truth(uow: Uow, paging: Paging) -> Page[GroundTruthRow]:
    rows, total = service.ground_truth(uow=uow, limit=paging.limit, offset=paging.offset)
    uow.commit()
    return Page(items=rows, total=total, **paging.model_dump())


@router.get("/error-rates", response_model=list[ErrorRateRow], dependencies=[requires(*MONITORS)])
def error_rates(uow: Uow) -> list[ErrorRateRow]:
    """How often reviewers overturn the machine, with Wilson 95 % intervals (live monitoring)."""
    rows = service.error_rates(uow=uow)
    uow.commit()
    return rows
