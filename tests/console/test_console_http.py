"""The console over HTTP on both databases (no browser): CSRF, cookies, scoping, audit, API untouched."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.access.models import User
from custodes.app import create_app
from custodes.audit.models import AuditEntry
from custodes.lab import console_scenario
from custodes.lab.console_scenario import PASSWORD


@pytest.fixture
def scenario(container):
    return console_scenario.seed(container, days=1, step_s=600)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    token = _csrf(client.get("/sign-in").text)
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)


def _last_day(container) -> dict[str, str]:
    # The window as an officer types it, in their zone (Europe/London is UTC in January).
    now = container.clock.now()
    return {"from": f"{now - timedelta(days=1):%Y-%m-%dT%H:%M}", "to": f"{now:%Y-%m-%dT%H:%M}"}


def _audit_count(container, **where) -> int:
    with container.uow(Actor.system("test")) as uow:
        q = select(func.count()).select_from(AuditEntry)
        for k, v in where.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return uow.session.scalar(q)


def test_sign_in_needs_its_csrf_token_and_sets_a_strict_cookie(client, scenario):
    r = client.post("/sign-in", data={"username": "casey", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "security token" in r.text
    assert "custodes_session" not in r.cookies
    r = sign_in(client, "casey", "wrong-password-here")
    assert r.status_code == 401 and "Wrong username or password" in r.text
    r = sign_in(client, "casey")
    assert r.status_code == 303 and r.headers["location"] == "/caseload"
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("custodes_session=")][0].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain HTTP here
    page = client.get("/caseload")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_over_tls_the_session_cookie_is_secure(container, scenario):
    with TestClient(create_app(container), base_url="https://testserver") as tls:
        r = sign_in(tls, "casey")
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("custodes_session=")][0].lower()
    assert "secure" in cookie


def test_caseload_is_scoped_and_finds_a_reference(client, scenario):
    sign_in(client, "casey")
    page = client.get("/caseload").text
    assert "Jan Kowalski" in page and "Maria Nowak" in page and "Piotr Zielinski" not in page
    ref = scenario.subject_id.hex[:8].upper()
    found = client.get("/caseload", params={"q": ref.lower()}).text
    assert "Jan Kowalski" in found and "Maria Nowak" not in found
    other = scenario.other_agency_subject_id.hex[:8]
    assert "Piotr Zielinski" not in client.get("/caseload", params={"q": other}).text


def test_another_agencys_trail_export_is_a_404_and_records_nothing(client, container, scenario):
    sign_in(client, "sam")  # south agency
    params = {**_last_day(container), "purpose": "case_review", "detail": "probe"}
    before = _audit_count(container, target_type="trail")
    r = client.get(f"/subjects/{scenario.subject_id}/trail.csv", params=params)
    assert r.status_code == 404 and "What to do next" in r.text
    assert _audit_count(container, target_type="trail") == before
    client.post("/sign-out", headers={"X-CSRF-Token": _csrf(client.get("/caseload").text)})
    sign_in(client, "casey")
    r = client.get(f"/subjects/{scenario.subject_id}/trail.csv", params=params)
    assert r.status_code == 200 and r.text.startswith("time,lat,lon,accuracy_m")
    assert len(r.text.splitlines()) == 1 + 24 * 6
    assert _audit_count(container, target_type="trail", action="export", actor_name="casey") == 1


def test_a_trail_read_needs_a_listed_purpose_and_a_reason(client, container, scenario):
    sign_in(client, "casey")
    base = _last_day(container)
    for bad in ({"purpose": "curiosity", "detail": "just looking"}, {"purpose": "case_review", "detail": ""},
                {"to": "2027-05-10T12:00", "purpose": "case_review", "detail": "too long"}):
        r = client.get(f"/subjects/{scenario.subject_id}/trail.gpx", params={**base, **bad})
        assert r.status_code == 422 and "What to do next" in r.text
    assert _audit_count(container, target_type="trail") == 0


def test_a_disabled_officer_is_signed_out_at_once(client, container, scenario):
    sign_in(client, "casey")
    assert client.get("/caseload").status_code == 200
    with container.uow(Actor.system("test")) as uow:
        uow.session.scalars(select(User).where(User.username == "casey")).one().active = False
        uow.commit()
    r = client.get("/caseload", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_sessions_end_after_a_shift(client, container, scenario):
    sign_in(client, "casey")
    container.clock.advance(timedelta(hours=8, minutes=1))
    assert client.get("/caseload", follow_redirects=False).status_code == 303


def test_the_api_keeps_problem_json(client, scenario):
    r = client.get(f"/v1/subjects/{scenario.subject_id}")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/v1/no-such-thing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(client, container, scenario):
    sign_in(client, "casey")
    stolen = client.cookies.get("custodes_session")
    r = client.post("/sign-out", headers={"X-CSRF-Token": _csrf(client.get("/caseload").text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"
    client.cookies.set("custodes_session", stolen)  # a copy taken before the sign-out
    r = client.get("/caseload", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert _audit_count(container, target_type="console_session", action="create") == 1
    assert _audit_count(container, target_type="console_session", action="update") == 1  # the sign-out


def test_a_forged_session_cookie_is_refused(client, container, scenario):
    from custodes.console import session as cookies

    with container.uow(Actor.system("test")) as uow:
        casey = uow.session.scalars(select(User).where(User.username == "casey")).one()
    # Signed with the right key but never issued: no session row, so no entry.
    expires = (container.clock.now() + timedelta(hours=1)).isoformat()
    forged = cookies.sign(container.token_key, "session", {"s": "x" * 43, "u": str(casey.id), "c": "y", "e": expires})
    client.cookies.set("custodes_session", forged)
    assert client.get("/caseload", follow_redirects=False).status_code == 303
