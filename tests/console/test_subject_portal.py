"""The monitored person's own pages and the reporting-centre page, in headless Chromium with axe-core:
sign-in, schedule (in Polish), export download, representation, contest; a wristband scan confirmed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.checkins.models import InPersonReport
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate
from custodes.subject_access import service as subject_access
from custodes.subject_access.models import CaseTask
from tests.console.conftest import NOW, check_axe

WRISTBAND = "7700012345"


@pytest.fixture(scope="module")
def person(console_server) -> dict:
    """Jan Kowalski of the scenario, with his own sign-in and a wristband."""
    c, sid = console_server.container, console_server.scenario.subject_id
    with c.uow(Actor.system("test")) as uow:
        issued = subject_access.issue_credentials(uow=uow, subject_id=sid)
        uow.commit()
    caseworker = Actor(kind="user", id=None, name="test", agency_id=console_server.scenario.agencies["north"])
    with c.uow(caseworker) as uow:
        band, _ = devices.register(uow=uow, data=DeviceCreate(kind="wristband", serial="WB-9001", barcode=WRISTBAND),
                                   device_key=c.device_key)
        uow.session.flush()
        devices.assign(uow=uow, device_id=band.id, data=AssignmentCreate(subject_id=sid, starts_at=NOW))
        uow.commit()
    return {"username": issued.username, "password": issued.password, "subject_id": sid}


def _sign_in(page, person, password=None) -> None:
    page.goto("/my/sign-in")
    page.get_by_label("Username").fill(person["username"])
    page.get_by_label("Password").fill(password or person["password"])
    page.get_by_role("button", name="Sign in").click()


def test_the_person_signs_in_and_sees_their_schedule_in_their_language(page, person):
    page.goto("/my")
    assert page.url.endswith("/my/sign-in")  # their own sign-in, not the officers'
    check_axe(page)
    _sign_in(page, person, "not-the-password")
    assert page.locator("#sign-in-error").inner_text().startswith("Wrong username or password")
    _sign_in(page, person)
    page.wait_for_url("**/my")
    conditions = page.locator("#conditions-1 li").all_inner_texts()
    assert 'Przebywaj w obszarze "Home".' in conditions and 'Nie wchodź do obszaru "Zone B".' in conditions
    assert page.locator("#conditions-1 li").first.get_attribute("lang") == "pl"
    assert page.locator("#alerts tbody tr").count() >= 1  # the scenario's Zone B visit
    check_axe(page)
    # An officer's page is not theirs: the person's session does not open the console.
    page.goto("/caseload")
    assert "/sign-in" in page.url and "/my/" not in page.url


def test_the_person_downloads_everything_held_about_them(page, person):
    _sign_in(page, person)
    page.wait_for_url("**/my")
    with page.expect_download() as got:
        page.locator("#export-json").click()
    data = json.loads(open(got.value.path(), encoding="utf-8").read())
    assert data["subject"]["full_name"] == "Jan Kowalski" and len(data["trail"]) > 1000
    assert "Maria Nowak" not in json.dumps(data) and "Piotr Zielinski" not in json.dumps(data)
    with page.expect_download() as got:
        page.locator("#export-pdf").click()
    assert open(got.value.path(), "rb").read(5) == b"%PDF-"


def test_the_person_sends_a_representation_and_contests_an_alert(page, person, console_server):
    _sign_in(page, person)
    page.wait_for_url("**/my")
    page.get_by_role("link", name="Send a representation").click()
    page.wait_for_url("**/my/representation")
    check_axe(page)
    page.get_by_label("Medical evidence").check()
    page.get_by_label("What you want to say").fill("I broke my wrist; the watch cannot be worn on it.")
    page.get_by_label("Attach a file").set_input_files(
        {"name": "letter.txt", "mimeType": "text/plain", "buffer": "Fracture clinic, 8 March 2027.".encode()})
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/my")
    assert page.get_by_role("status").first.inner_text().startswith("Sent. A caseworker must answer by")
    assert "Waiting for an answer" in page.locator("#tasks").inner_text()

    page.locator("#alerts").get_by_role("link", name="Contest this alert").first.click()
    page.wait_for_url("**/my/contest?**")
    check_axe(page)
    page.get_by_label("Why you think it is wrong").fill("I was taken to hospital in an ambulance that day.")
    page.get_by_role("button", name="Send my challenge").click()
    page.wait_for_url("**/my")
    assert "A person must answer, with reasons, by" in page.get_by_role("status").first.inner_text()
    with console_server.container.uow(Actor.system("test")) as uow:
        kinds = sorted(t.kind for t in uow.session.scalars(select(CaseTask).where(
            CaseTask.subject_id == person["subject_id"])))
    assert kinds == ["contest", "representation"]


def test_the_privacy_notice_is_public_in_albanian_polish_and_romanian(page):
    for lang, heading in (("sq", "Çfarë mbledhim"), ("pl", "Co zbieramy"), ("ro", "Ce colectăm")):
        page.goto(f"/privacy?lang={lang}")
        assert page.locator("#notice").get_attribute("lang") == lang
        assert heading in page.locator("#notice h2").all_inner_texts()
        check_axe(page)


def test_staff_scan_a_wristband_and_confirm_the_person(signed_in, person, console_server):
    page = signed_in("casey")
    page.get_by_role("link", name="Reporting centre").click()
    page.wait_for_url("**/reporting")
    check_axe(page)
    page.get_by_label("Wristband barcode").fill(WRISTBAND)
    page.get_by_label("Reporting centre").fill("Croydon reporting centre")
    page.get_by_label("Wristband barcode").press("Enter")  # a scanner types the code and Enter
    assert "Jan Kowalski" in page.locator("#person").inner_text()
    check_axe(page)
    page.get_by_role("button", name="Confirm: this is the person").click()
    page.wait_for_url("**/reporting")
    assert page.get_by_role("status").first.inner_text().startswith("Reported in person at Croydon reporting centre")
    with console_server.container.uow(Actor.system("test")) as uow:
        n = uow.session.scalar(select(func.count()).select_from(InPersonReport).where(
            InPersonReport.subject_id == person["subject_id"]))
    assert n == 1
    # Another agency's officer finds no one behind the same wristband.
    page.context.clear_cookies()
    other = signed_in("sam")
    other.goto("/reporting")
    other.get_by_label("Wristband barcode").fill(WRISTBAND)
    other.get_by_label("Reporting centre").fill("Leeds")
    other.get_by_role("button", name="Look up").click()
    assert other.locator("h1").inner_text() == "Not found"
