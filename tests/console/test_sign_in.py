"""Signing in and out of the console in a real browser; CSRF on forms; error pages."""

from __future__ import annotations

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry
from tests.console.conftest import check_axe, sign_in


def test_sign_in_shows_the_caseload_and_a_wrong_password_is_refused(page, console_server):
    page.goto("/caseload")
    assert "/sign-in" in page.url  # signing in comes first
    check_axe(page)
    sign_in(page, "casey", "not-the-password")
    assert page.locator("#sign-in-error").inner_text().startswith("Wrong username or password")
    assert page.context.cookies() and not any(c["name"] == "custodes_session" for c in page.context.cookies())
    sign_in(page, "casey")
    page.wait_for_url("**/caseload")
    assert page.get_by_role("status").first.inner_text() == "Signed in as casey."
    session = next(c for c in page.context.cookies() if c["name"] == "custodes_session")
    assert session["httpOnly"] and session["sameSite"] in ("Lax", "Strict")
    with console_server.container.uow(Actor.system("test")) as uow:
        actions = [e.action for e in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("sign_in", "sign_in_failed"))).order_by(AuditEntry.seq))]
    assert actions[-2:] == ["sign_in_failed", "sign_in"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")
    page.goto("/caseload")
    assert "/sign-in" in page.url


def test_a_form_without_its_csrf_token_is_refused(signed_in, console_server):
    page = signed_in("casey")
    # The sign-out form, sent without its token, as a forged cross-site form would be.
    page.evaluate("document.querySelector('form[action=\"/sign-out\"] input[name=csrf_token]').remove()")
    page.get_by_role("button", name="Sign out").click()
    assert page.locator("h1").inner_text() == "Form check failed"
    assert "reload the page" in page.locator("#error-detail").inner_text()
    page.goto("/caseload")  # still signed in: the forged sign-out did nothing
    assert page.locator("h1").inner_text() == "Caseload"


def test_another_agencys_subject_is_a_404_page(signed_in, console_server):
    page = signed_in("casey")
    other = console_server.scenario.other_agency_subject_id
    response = page.goto(f"/subjects/{other}")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert "What to do next" in page.content()
    check_axe(page)
    # The south agency's own caseworker does see it.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "sam")
    assert page.goto(f"/subjects/{other}").status == 200
