"""The monitored person's tokens and the FastAPI dependencies of their routes.

Their tokens carry their own audience, so an officer route refuses one (PyJWT rejects a token with
an audience it was not asked to accept) and a subject route refuses an officer's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from custodes.actor import Actor
from custodes.access.deps import ContainerDep
from custodes.access.security import ISSUER
from custodes.errors import Unauthorized
from custodes.subject_access.models import SubjectCredential
from custodes.uow import UnitOfWork

AUDIENCE = "custodes-subject"
_bearer = OAuth2PasswordBearer(tokenUrl="/v1/my/token", auto_error=False, scheme_name="SubjectToken")


def issue_token(key: bytes, *, credential: SubjectCredential, now: datetime, minutes: int) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(credential.subject_id), "cred": str(credential.id),
              "kind": "subject", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(minutes=minutes)).timestamp()), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="HS256")


def _read(key: bytes, token: str, now: datetime) -> dict:
    claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE,
                        options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "iat", "aud"]})
    if claims["exp"] <= now.timestamp():
        raise jwt.ExpiredSignatureError("token expired")
    if claims.get("kind") != "subject":
        raise jwt.InvalidTokenError("not a subject token")
    return claims


def current_subject(container: ContainerDep, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    if not token:
        raise Unauthorized("sign in first")
    try:
        claims = _read(container.token_key, token, container.clock.now())
        subject_id, credential_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["cred"])
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    # Credentials may have been withdrawn or reissued since the token was given.
    with container.uow(Actor.system("auth")) as uow:
        cred = uow.session.get(SubjectCredential, credential_id)
        if cred is None or not cred.active or cred.subject_id != subject_id:
            raise Unauthorized("these credentials are no longer valid")
        username = cred.username
    return Actor(kind="subject", id=str(subject_id), name=username)


Me = Annotated[Actor, Depends(current_subject)]


def subject_uow(container: ContainerDep, actor: Me) -> Iterator[UnitOfWork]:
    with container.uow(actor) as uow:
        yield uow


MyUow = Annotated[UnitOfWork, Depends(subject_uow)]
