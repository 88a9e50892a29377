"""The subject page: the order and its conditions in plain words, the map and trail, the timeline, exports."""

from __future__ import annotations

import uuid

from fastapi.responses import Response

from custodes.access.actor import Role
from custodes.console import web
from custodes.subjects import service as subjects

SUBJECT_ROLES = (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.POLICE, Role.ADMIN)
router = web.console_router()


@router.get("/subjects/{subject_id}", dependencies=[web.page_requires(*SUBJECT_ROLES)])
def subject_page(page: web.PageDep, subject_id: uuid.UUID) -> Response:
    subject = subjects.get(uow=page.uow, subject_id=subject_id, purpose="console: subject page")
    page.uow.commit()
    return page.render("subject.html", title=subject.full_name, subject=subject)
