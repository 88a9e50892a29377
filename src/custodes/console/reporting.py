"""The reporting-centre page: staff scan a person's wristband (a scanner types the barcode and Enter),
see who it belongs to, and confirm the person in front of them; the confirmation is their check-in.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form
from fastapi.responses import Response

from custodes.actor import Role
from custodes.checkins import reporting
from custodes.checkins.models import ScanConfirm
from custodes.console import web
from custodes.console.caseload import reference

CENTRE_ROLES = (Role.CASEWORKER, Role.PROBATION)
router = web.console_router()
web.add_nav("/reporting", "Reporting centre", CENTRE_ROLES)


@router.get("/reporting", dependencies=[web.page_requires(*CENTRE_ROLES)])
def scan_form(page: web.PageDep) -> Response:
    return page.render("reporting.html", title="Reporting centre", person=None)


@router.post("/reporting/scan", dependencies=[web.page_requires(*CENTRE_ROLES)])
def scan(page: web.PageDep, barcode: Annotated[str, Form(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")],
         centre: Annotated[str, Form(max_length=200)] = "") -> Response:
    person = reporting.lookup(uow=page.uow, barcode=barcode.strip())
    page.uow.commit()  # the lookup is an audited read of the person's record
    return page.render("reporting.html", title="Confirm the person", person=person, centre=centre,
                       ref=reference(person.subject_id))


@router.post("/reporting/confirm", dependencies=[web.page_requires(*CENTRE_ROLES)])
def confirm(page: web.PageDep, barcode: Annotated[str, Form()], subject_id: Annotated[uuid.UUID, Form()],
            centre: Annotated[str, Form(min_length=2, max_length=200)],
            note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    report = reporting.confirm(uow=page.uow, data=ScanConfirm(barcode=barcode, subject_id=subject_id, centre=centre,
                                                              note=note or None))
    page.uow.commit()
    what = "answered today's reporting requirement" if report.prompt_id else "recorded (nothing was due now)"
    return page.redirect("/reporting", f"Reported in person at {centre}: {what}.")
