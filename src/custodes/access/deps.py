"""FastAPI dependencies: the container, the signed-in officer, role checks and the unit of work.

Handlers declare what they need with the aliases below and stay a line or two long.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from custodes.access import security, service
from custodes.actor import Actor, Role
from custodes.bootstrap import Container
from custodes.errors import Forbidden, Unauthorized
from custodes.pagination import PageParams, page_params
from custodes.uow import UnitOfWork

_bearer = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def current_officer(container: ContainerDep, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    if not token:
        raise Unauthorized("a bearer token is required")
    try:
        claims = security.read_token(container.token_key, token, container.clock.now())
        user_id = uuid.UUID(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    # The account may have been disabled since the token was issued.
    with container.uow(Actor.system("auth")) as uow:
        user = service.load_officer(uow=uow, user_id=user_id)
    if user is None:
        raise Unauthorized("the account behind this token is disabled or gone")
    return Actor(kind="user", id=str(user.id), name=user.username, agency_id=user.agency_id, role=Role(user.role))


Officer = Annotated[Actor, Depends(current_officer)]


def requires(*roles: Role):
    """Declare on the route which roles may call it."""

    def _check(actor: Officer) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"role {actor.role} may not do this")
        return actor

    return Depends(_check)


def officer_uow(container: ContainerDep, actor: Officer) -> Iterator[UnitOfWork]:
    with container.uow(actor) as uow:
        yield uow


Uow = Annotated[UnitOfWork, Depends(officer_uow)]
Paging = Annotated[PageParams, Depends(page_params)]
