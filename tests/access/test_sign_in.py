"""Signing in, bad tokens, expiry and throttling of repeated failures (both databases)."""

from datetime import timedelta

import jwt
import sqlalchemy as sa

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import UserCreate

PROBLEM = "application/problem+json"


def _user(container, agencies, name="officer.one", password="a-very-long-password"):
    with container.uow(Actor.system("test")) as uow:
        access.create_user(uow=uow, data=UserCreate(username=name, password=password, role="caseworker"),
                           agency_id=agencies["home_office"])
        uow.commit()
    return name, password


def test_sign_in_gives_a_short_lived_token_that_works(client, container, agencies):
    name, password = _user(container, agencies)
    r = client.post("/v1/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == name


def test_bad_token_answers_401_problem_json(client, agencies):
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"},
                    {"Authorization": "Bearer " + jwt.encode({"sub": "x"}, "wrong-key-wrong-key-wrong-key-32")}):
        r = client.get("/v1/subjects", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["status"] == 401 and r.json()["detail"]


def test_expired_token_answers_401(client, container, clock, agencies):
    name, password = _user(container, agencies)
    token = client.post("/v1/auth/token", data={"username": name, "password": password}).json()["access_token"]
    clock.advance(timedelta(minutes=16))
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_wrong_password_and_unknown_user_look_the_same(client, container, agencies):
    name, _ = _user(container, agencies)
    a = client.post("/v1/auth/token", data={"username": name, "password": "wrong-password-123"})
    b = client.post("/v1/auth/token", data={"username": "nobody.here", "password": "wrong-password-123"})
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"]
    assert a.headers["content-type"].startswith(PROBLEM)


def test_repeated_failures_are_throttled_then_released(client, container, clock, agencies, rows):
    name, password = _user(container, agencies)
    for _ in range(5):
        assert client.post("/v1/auth/token", data={"username": name, "password": "nope-nope-nope"}).status_code == 401
    # Locked now: even the right password is refused, with a Retry-After.
    r = client.post("/v1/auth/token", data={"username": name, "password": password})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"].startswith(PROBLEM)
    clock.advance(timedelta(seconds=int(r.headers["retry-after"]) + 1))
    assert client.post("/v1/auth/token", data={"username": name, "password": password}).status_code == 200
    with container.engine.connect() as conn:  # a success clears the officer's counts (not the address's)
        keys = conn.scalars(sa.text("SELECT key FROM sign_in_throttles")).all()
    assert keys == ["addr:testclient"]


def test_back_off_grows_with_further_failures(client, container, clock, agencies):
    name, _ = _user(container, agencies)
    waits = []
    for _ in range(3):
        for _ in range(6):
            r = client.post("/v1/auth/token", data={"username": name, "password": "nope-nope-nope"})
            if r.status_code == 429:
                waits.append(int(r.headers["retry-after"]))
                clock.advance(timedelta(seconds=waits[-1] + 1))
                break
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]


def test_failed_sign_ins_are_audited(client, container, agencies):
    name, _ = _user(container, agencies)
    client.post("/v1/auth/token", data={"username": name, "password": "nope-nope-nope"})
    import sqlalchemy as sa

    with container.engine.connect() as conn:
        actions = conn.scalars(sa.text("SELECT action FROM audit_entries ORDER BY seq")).all()
    assert "sign_in_failed" in actions


def test_disabled_account_token_is_refused(client, container, officer):
    headers = officer("caseworker")
    import sqlalchemy as sa

    with container.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET active = false"))
    assert client.get("/v1/me", headers=headers).status_code == 401
