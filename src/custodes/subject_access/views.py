"""The monitored person's own routes (/v1/my/...) and the public privacy notice."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm

from custodes.actor import Actor
from custodes.access.deps import ContainerDep
from custodes.bounds import MAX_OFFSET
from custodes.subject_access import export, notice, report_pdf, service, voice
from custodes.subject_access.deps import MyUow
from custodes.subject_access.models import (
    ContestCreate,
    PlainItem,
    RepresentationRead,
    SubjectToken,
    TaskRead,
)
from custodes.subject_access.texts import language_for

router = APIRouter(prefix="/v1", tags=["the monitored person"])


@router.post("/my/token", response_model=SubjectToken)
def sign_in(request: Request, container: ContainerDep,
            form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> SubjectToken:
    """The person's own sign-in, with the credentials a caseworker issued at enrolment."""
    who = Actor.anonymous(name=request.client.host if request.client else None)
    with container.uow(who) as uow:
        token = service.sign_in(uow=uow, settings=container.settings, token_key=container.token_key,
                                username=form.username, password=form.password,
                                address=request.client.host if request.client else None)
    return SubjectToken(access_token=token, expires_in=container.settings.token_minutes * 60)


@router.get("/my/schedule")
def my_schedule(uow: MyUow) -> dict[str, Any]:
    """Your orders and conditions in your language, review dates, and in-person reporting if you have it."""
    out = service.schedule(uow=uow)
    uow.commit()
    return out


@router.get("/my/checkins", response_model=list[PlainItem])
def my_checkins(uow: MyUow, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[PlainItem]:
    """Your check-in results, with the reasons in plain words."""
    out = service.my_check_ins(uow=uow, limit=limit, offset=offset)
    uow.commit()
    return out


@router.get("/my/alerts", response_model=list[PlainItem])
def my_alerts(uow: MyUow, limit: Annotated[int, Query(ge=1, le=500)] = 100,
              offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[PlainItem]:
    """The alerts about you and how they were closed."""
    out = service.my_alerts(uow=uow, limit=limit, offset=offset)
    uow.commit()
    return out


@router.get("/my/export", responses={200: {"content": {"application/json": {}}}})
def my_export(uow: MyUow) -> Response:
    """Everything held about you, as JSON (a subject access request)."""
    data = export.export(uow=uow, form="json")
    uow.commit()
    body = json.dumps(jsonable_encoder(data), ensure_ascii=False, indent=1)
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": 'attachment; filename="my-data.json"', "Cache-Control": "no-store"})


@router.get("/my/export.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def my_export_pdf(uow: MyUow) -> Response:
    """The same export as a readable PDF report."""
    data = jsonable_encoder(export.export(uow=uow, form="pdf"))
    uow.commit()
    return Response(report_pdf.render(data), media_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="my-data.pdf"', "Cache-Control": "no-store"})


@router.post("/my/representations", response_model=RepresentationRead, status_code=201)
def send_representation(uow: MyUow, text: Annotated[str, Form(min_length=3, max_length=10_000)],
                        kind: Annotated[str, Form(pattern="^(representation|medical_evidence)$")] = "representation",
                        attachment: Annotated[UploadFile | None, File()] = None) -> RepresentationRead:
    """Say something to be considered (optionally with a PDF, image or text file up to 5 MiB); a
    caseworker must answer it with reasons, and your order's review is brought forward."""
    data = attachment.file.read(voice.MAX_ATTACHMENT_BYTES + 1) if attachment is not None else None
    row, task = voice.represent(uow=uow, kind=kind, text=text, attachment=data or None,
                                attachment_name=attachment.filename if attachment is not None else None)
    uow.commit()
    return RepresentationRead.model_validate(row).model_copy(update={"task": TaskRead.model_validate(task)})


@router.get("/my/representations", response_model=list[RepresentationRead])
def my_representations(uow: MyUow) -> list[RepresentationRead]:
    rows = [RepresentationRead.model_validate(r) for r in voice.my_representations(uow=uow)]
    uow.record_read("subject", service.me(uow=uow).id, detail={"view": "representations"})
    uow.commit()
    return rows


@router.post("/my/contests", response_model=TaskRead, status_code=201)
def contest(data: ContestCreate, uow: MyUow) -> TaskRead:
    """Contest a decision about you: a person must answer, with reasons, by the deadline shown."""
    task = voice.contest(uow=uow, data=data)
    uow.commit()
    return TaskRead.model_validate(task)


@router.get("/my/tasks", response_model=list[TaskRead])
def my_tasks(uow: MyUow) -> list[TaskRead]:
    """Your contests and representations, their deadlines and the answers given."""
    rows = [TaskRead.model_validate(t) for t in voice.my_tasks(uow=uow)]
    uow.record_read("subject", service.me(uow=uow).id, detail={"view": "tasks"})
    uow.commit()
    return rows


@router.get("/my/privacy-notice")
def my_privacy_notice(uow: MyUow) -> dict[str, Any]:
    subject = service.me(uow=uow)
    uow.record_read("subject", subject.id, detail={"view": "privacy_notice"})
    uow.commit()
    return notice.notice(subject.preferred_language)


@router.get("/privacy-notice", tags=["public"])
def privacy_notice(lang: Annotated[str, Query(max_length=35)] = "en") -> dict[str, Any]:
    """The privacy notice, public: `lang` is en, sq (Albanian), pl (Polish) or ro (Romanian)."""
    return {**notice.notice(lang), "available": list(notice.available()), "requested": lang,
            "served": language_for(lang)}
