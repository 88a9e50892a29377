"""The monitored person's own pages under /my: sign-in, their schedule and decisions in their
language, the subject access export, a representation, and contesting a decision.

They have their own session cookie (signed with its own purpose, so an officer's cookie is not a
person's and the other way round) and every form carries that session's CSRF token. Everything is
loaded through `custodes.subject_access`, whose queries see the person's own case only.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from custodes.actor import Actor
from custodes.access.deps import ContainerDep
from custodes.bootstrap import Container
from custodes.console import session as cookies
from custodes.console import web
from custodes.errors import TooManyRequests, Unauthorized
from custodes.subject_access import export, notice, report_pdf, service, voice
from custodes.subject_access.models import ContestCreate, ContestTarget, SubjectCredential
from custodes.subject_access.texts import LANGUAGES, language_for
from custodes.uow import UnitOfWork

MY_COOKIE = "custodes_my_session"
MY_HOURS = 2


class SubjectSignInRequired(web.SignInRequired):
    def url(self, request: Request) -> str:
        return "/my/sign-in"


def _read(container: Container, request: Request) -> dict | None:
    data = cookies.unsign(container.token_key, "my-session", request.cookies.get(MY_COOKIE))
    if not data:
        return None
    try:
        if datetime.fromisoformat(data["e"]) <= container.clock.now():
            return None
    except (KeyError, ValueError):
        return None
    return data


async def my_csrf(request: Request, container: ContainerDep) -> None:
    if request.method in web.SAFE_METHODS:
        return
    s = _read(container, request)
    expected = s["c"] if s else None
    if expected is None:
        pre = cookies.unsign(container.token_key, "presession", request.cookies.get(cookies.PRE_SESSION_COOKIE))
        expected = pre.get("c") if pre else None
    given = request.headers.get(cookies.CSRF_HEADER)
    if given is None:
        given = (await request.form()).get(cookies.CSRF_FIELD)
    if not cookies.tokens_match(expected, given if isinstance(given, str) else None):
        raise web.CsrfRefused("the form's security token was missing or out of date; reload the page and try again")


router = APIRouter(include_in_schema=False, dependencies=[Depends(my_csrf)])


@dataclass
class MyPage:
    request: Request
    container: Container
    actor: Actor
    csrf: str
    uow: UnitOfWork

    def render(self, template: str, *, status: int = 200, **ctx) -> Response:
        return web.render(self.request, self.container, template, status=status, csrf=self.csrf, me=self.actor,
                          **ctx)

    def redirect(self, url: str, message: str) -> Response:
        return web.redirect(self.request, self.container, url, message)


def my_page(request: Request, container: ContainerDep) -> Iterator[MyPage]:
    s = _read(container, request)
    if s is None:
        raise SubjectSignInRequired("sign in to see your own record")
    with container.uow(Actor.system("my-auth")) as uow:
        cred = uow.session.get(SubjectCredential, uuid.UUID(s["k"]))
        ok = cred is not None and cred.active and str(cred.subject_id) == s["s"]
        name = cred.username if ok else None
    if not ok:  # withdrawn or reissued since
        raise SubjectSignInRequired("these credentials are no longer valid")
    actor = Actor(kind="subject", id=s["s"], name=name)
    with container.uow(actor) as uow:
        yield MyPage(request=request, container=container, actor=actor, csrf=s["c"], uow=uow)


Mine = Annotated[MyPage, Depends(my_page)]


@router.get("/my/sign-in")
def sign_in_form(request: Request, container: ContainerDep) -> Response:
    return web.render(request, container, "my_sign_in.html", title="Sign in to see your record")


@router.post("/my/sign-in")
def sign_in(request: Request, container: ContainerDep, username: Annotated[str, Form(max_length=64)],
            password: Annotated[str, Form(max_length=256)]) -> Response:
    who = Actor.anonymous(name=request.client.host if request.client else None)
    try:
        with container.uow(who) as uow:
            service.sign_in(uow=uow, settings=container.settings, token_key=container.token_key,
                            username=username, password=password,
                            address=request.client.host if request.client else None)
    except (Unauthorized, TooManyRequests) as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 401
        error = f"{exc.detail}." if status == 429 else "Wrong username or password. Check both and try again."
        return web.render(request, container, "my_sign_in.html", status=status, title="Sign in to see your record",
                          error=error, username=username)
    with container.uow(Actor.system("my-auth")) as uow:
        cred = uow.session.scalars(select(SubjectCredential).where(
            SubjectCredential.username == username.strip().lower())).one()
        payload = {"k": str(cred.id), "s": str(cred.subject_id), "c": secrets.token_urlsafe(32),
                   "e": (container.clock.now() + timedelta(hours=MY_HOURS)).isoformat()}
    response = RedirectResponse("/my", status_code=303)
    cookies.set_cookie(request, response, MY_COOKIE, cookies.sign(container.token_key, "my-session", payload),
                       max_age=MY_HOURS * 3600, samesite="strict")
    response.delete_cookie(cookies.PRE_SESSION_COOKIE, path="/")
    return response


@router.post("/my/sign-out")
def sign_out(page: Mine) -> Response:
    response = web.redirect(page.request, page.container, "/my/sign-in", "Signed out.")
    response.delete_cookie(MY_COOKIE, path="/")
    return response


@router.get("/my")
def home(page: Mine) -> Response:
    schedule = service.schedule(uow=page.uow)
    checkins = service.my_check_ins(uow=page.uow, limit=50)
    alerts = service.my_alerts(uow=page.uow, limit=50)
    tasks = voice.my_tasks(uow=page.uow)
    page.uow.commit()
    return page.render("my_home.html", title="Your record", schedule=schedule, checkins=checkins, alerts=alerts,
                       tasks=tasks, lang=schedule["language"])


@router.get("/my/export.json")
def export_json(page: Mine) -> Response:
    data = export.export(uow=page.uow, form="json")
    page.uow.commit()
    return Response(json.dumps(jsonable_encoder(data), ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"', "Cache-Control": "no-store"})


@router.get("/my/export.pdf")
def export_pdf(page: Mine) -> Response:
    data = jsonable_encoder(export.export(uow=page.uow, form="pdf"))
    page.uow.commit()
    return Response(report_pdf.render(data), media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="my-data.pdf"', "Cache-Control": "no-store"})


@router.get("/my/representation")
def representation_form(page: Mine) -> Response:
    return page.render("my_representation.html", title="Send a representation",
                       max_mib=voice.MAX_ATTACHMENT_BYTES // 2**20)


@router.post("/my/representation")
def representation(page: Mine, text: Annotated[str, Form(max_length=10_000)],
                   kind: Annotated[str, Form()] = "representation",
                   attachment: Annotated[UploadFile | None, File()] = None) -> Response:
    data = attachment.file.read(voice.MAX_ATTACHMENT_BYTES + 1) if attachment is not None else None
    _, task = voice.represent(uow=page.uow, kind=kind, text=text, attachment=data or None,
                              attachment_name=attachment.filename if attachment is not None and data else None)
    page.uow.commit()
    return page.redirect("/my", f"Sent. A caseworker must answer by {web.local(task.due_at, 'Europe/London', '%d %b %Y')}"
                                ", and your order's review has been brought forward.")


@router.get("/my/contest")
def contest_form(page: Mine, target_type: str, target_id: uuid.UUID, what: str = "") -> Response:
    return page.render("my_contest.html", title="Contest a decision", target_type=target_type, target_id=target_id,
                       what=what[:300])


@router.post("/my/contest")
def contest(page: Mine, target_type: Annotated[ContestTarget, Form()], target_id: Annotated[uuid.UUID, Form()],
            grounds: Annotated[str, Form(min_length=3, max_length=5000)]) -> Response:
    task = voice.contest(uow=page.uow, data=ContestCreate(target_type=target_type, target_id=target_id,
                                                          grounds=grounds))
    page.uow.commit()
    return page.redirect("/my", "Your challenge was received. A person must answer, with reasons, by "
                                f"{web.local(task.due_at, 'Europe/London', '%d %b %Y')}.")


@router.get("/privacy")
def privacy(request: Request, container: ContainerDep, lang: str = "en") -> Response:
    text = notice.notice(lang)
    return web.render(request, container, "privacy.html", title=text["title"], notice=text,
                      languages={"en": "English", "sq": "Shqip", "pl": "Polski", "ro": "Română"},
                      lang=language_for(lang), available=LANGUAGES)
