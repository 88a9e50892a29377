"""Safe defaults on every answer: security headers, a CSP that lets the console load its own static
files only, and no caching of the token or of anything personal."""

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import UserCreate
from custodes.edge.headers import CSP

HEADERS = ("strict-transport-security", "x-content-type-options", "content-security-policy", "x-frame-options",
           "referrer-policy")


def test_every_answer_carries_the_security_headers(client, officer, new_subject):
    cw = officer("caseworker")
    subject = new_subject(cw)
    answers = [client.get("/healthz"), client.get("/openapi.json"), client.get("/v1/nowhere"),
               client.get("/v1/subjects"), client.get(f"/v1/subjects/{subject['id']}", headers=cw),
               client.post("/v1/subjects", content=b"x" * 300_000, headers=cw)]
    for r in answers:
        for name in HEADERS:
            assert name in r.headers, (r.request.url, r.status_code, name)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
    csp = answers[0].headers["content-security-policy"]
    assert csp == CSP
    for directive in ("script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_the_token_answer_is_never_cached(client, container, agencies):
    failed = client.post("/v1/auth/token", data={"username": "nobody", "password": "x" * 12})
    assert failed.headers["cache-control"] == "no-store" and failed.headers["pragma"] == "no-cache"
    with container.uow(Actor.system("test")) as uow:
        access.create_user(uow=uow, data=UserCreate(username="cache.test", password="p" * 14, role="caseworker"),
                           agency_id=agencies["home_office"])
        uow.commit()
    r = client.post("/v1/auth/token", data={"username": "cache.test", "password": "p" * 14})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
