"""Sign-in, agencies and officers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from custodes.access import service
from custodes.actor import Actor, Role
from custodes.access.deps import ContainerDep, Officer, Paging, Uow, requires
from custodes.access.models import AgencyCreate, AgencyRead, Token, UserCreate, UserRead
from custodes.errors import Forbidden
from custodes.pagination import Page

router = APIRouter(prefix="/v1", tags=["access"])


@router.post("/auth/token", response_model=Token)
def sign_in(request: Request, container: ContainerDep,
            form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    who = Actor.anonymous(name=request.client.host if request.client else None)
    with container.uow(who) as uow:
        token = service.sign_in(uow=uow, settings=container.settings, token_key=container.token_key,
                                username=form.username, password=form.password,
                                address=request.client.host if request.client else None)
    return Token(access_token=token, expires_in=container.settings.token_minutes * 60)


@router.get("/me", response_model=UserRead)
def me(actor: Officer, uow: Uow) -> UserRead:
    return UserRead.model_validate(service.load_officer(uow=uow, user_id=uuid.UUID(actor.id)))


@router.get("/agencies", response_model=list[AgencyRead])
def list_agencies(uow: Uow) -> list[AgencyRead]:
    return [AgencyRead.model_validate(a) for a in service.list_agencies(uow=uow)]


@router.post("/agencies", response_model=AgencyRead, status_code=201, dependencies=[requires(Role.ADMIN)])
def create_agency(data: AgencyCreate, uow: Uow) -> AgencyRead:
    agency = service.create_agency(uow=uow, data=data)
    uow.commit()
    return AgencyRead.model_validate(agency)


@router.post("/users", response_model=UserRead, status_code=201, dependencies=[requires(Role.ADMIN)])
def create_user(data: UserCreate, actor: Officer, uow: Uow) -> UserRead:
    agency_id = data.agency_id or actor.agency_id
    if agency_id != actor.agency_id:
        raise Forbidden("admins create officers of their own agency only")
    user = service.create_user(uow=uow, data=data, agency_id=agency_id)
    uow.commit()
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/unlock", response_model=UserRead, dependencies=[requires(Role.ADMIN)])
def unlock_user(user_id: uuid.UUID, actor: Officer, uow: Uow) -> UserRead:
    """Clear an officer's sign-in delays now (officers of the admin's own agency)."""
    user = service.unlock(uow=uow, user_id=user_id, agency_id=actor.agency_id)
    uow.commit()
    return UserRead.model_validate(user)


@router.get("/users", response_model=Page[UserRead], dependencies=[requires(Role.ADMIN)])
def list_users(actor: Officer, uow: Uow, paging: Paging) -> Page[UserRead]:
    items, total = service.list_users(uow=uow, agency_id=actor.agency_id, limit=paging.limit, offset=paging.offset)
    return Page(items=[UserRead.model_validate(u) for u in items], total=total, **paging.model_dump())
