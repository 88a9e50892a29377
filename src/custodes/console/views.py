"""Signing in and out of the console, with the same accounts, throttling and audit as the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.deps import ContainerDep
from custodes.access.models import ConsoleSession
from custodes.console import session as cookies
from custodes.console import web
from custodes.errors import TooManyRequests, Unauthorized

router = web.console_router()


@router.get("/")
def home(request: Request, container: ContainerDep) -> Response:
    who = web.signed_in(request, container)
    return RedirectResponse(web.landing(who[0]) if who else "/sign-in", status_code=303)


@router.get("/start")
def start(page: web.PageDep) -> Response:
    """For roles with no console page yet (auditors, police): what they can do instead."""
    return page.render("start.html", title="Custodes")


@router.get("/sign-in")
def sign_in_form(request: Request, container: ContainerDep, next: str | None = None) -> Response:
    if who := web.signed_in(request, container):
        return RedirectResponse(web.safe_next(next) or web.landing(who[0]), status_code=303)
    return web.render(request, container, "sign_in.html", title="Sign in", next=web.safe_next(next))


@router.post("/sign-in")
def sign_in(request: Request, container: ContainerDep, username: Annotated[str, Form(max_length=64)],
            password: Annotated[str, Form(max_length=256)],
            next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    who = Actor.anonymous(name=request.client.host if request.client else None)
    try:
        with container.uow(who) as uow:
            # The API's own sign-in: same password check, throttling and audit entries.
            access.sign_in(uow=uow, settings=container.settings, token_key=container.token_key,
                           username=username, password=password,
                           address=request.client.host if request.client else None)
            officer = uow.actor
    except (Unauthorized, TooManyRequests) as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 401
        error = (f"{exc.detail}." if status == 429 else
                 "Wrong username or password. Check both and try again; after several failures sign-in "
                 "pauses for a few minutes.")
        return web.render(request, container, "sign_in.html", status=status, title="Sign in",
                          next=web.safe_next(next), error=error, username=username)
    response = RedirectResponse(web.safe_next(next) or web.landing(officer), status_code=303)
    # A fresh session (and CSRF token) at every sign-in: nothing from before it carries over.
    now = container.clock.now()
    session = cookies.new_session(str(officer.id), now)
    with container.uow(officer) as uow:
        uow.session.add(ConsoleSession(id=session.digest, user_id=uuid.UUID(officer.id), created_at=now,
                                       expires_at=session.expires))
        uow.commit()
    cookies.write_session(container.token_key, request, response, session)
    cookies.write_flash(container.token_key, request, response, "success", f"Signed in as {username.strip().lower()}.")
    return response


@router.post("/sign-out")
def sign_out(page: web.PageDep) -> Response:
    row = page.uow.session.get(ConsoleSession, page.cookie.digest)
    if row is not None and row.ended_at is None:
        row.ended_at = page.now  # ends every copy of this cookie, not only the browser's
        page.uow.commit()
    response = web.redirect(page.request, page.container, "/sign-in", "Signed out. Sign in again to continue.")
    cookies.end_session(response)
    return response
