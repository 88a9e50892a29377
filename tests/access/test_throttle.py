"""Sign-in throttling per username and per source address, which cannot be used to lock a known
officer out: a stepped delay with a short cap for the username alone, and an administrator's unlock."""

from datetime import timedelta

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import UserCreate
from custodes.access.throttle import Step, network_of
from custodes.app import create_app
from custodes.cli.main import app as cli

PASSWORD = "a-very-long-password"


def _user(container, agencies, name):
    with container.uow(Actor.system("test")) as uow:
        user = access.create_user(uow=uow, data=UserCreate(username=name, password=PASSWORD, role="caseworker"),
                                  agency_id=agencies["home_office"])
        uow.commit()
    return user


def _from(container, address, app=None):
    return TestClient(app or create_app(container), client=(address, 40000))


def test_one_password_against_many_usernames_is_slowed_per_address(client, container, agencies):
    statuses = [client.post("/v1/auth/token", data={"username": f"guess{i}", "password": "Winter2027!!"}).status_code
                for i in range(40)]
    assert statuses.count(401) == container.settings.sign_in_max_failures * 4
    assert statuses[-1] == 429
    # Another address is not held back by it.
    _user(container, agencies, "officer.two")
    with _from(container, "10.9.8.7") as other:
        assert other.post("/v1/auth/token", data={"username": "officer.two", "password": PASSWORD}).status_code == 200


def test_an_attacker_cannot_lock_a_known_officer_out(container, agencies):
    _user(container, agencies, "officer.one")
    app = create_app(container)
    failed = 0
    for i in range(60):  # from many addresses, as patient as the caps allow: only the username's key grows
        r = _from(container, f"198.51.100.{i}", app).post(
            "/v1/auth/token", data={"username": "officer.one", "password": "nope-nope-nope"})
        failed += r.status_code == 401
        container.clock.advance(timedelta(seconds=61))
    assert failed == 60
    with _from(container, "192.0.2.10") as officer:
        r = officer.post("/v1/auth/token", data={"username": "officer.one", "password": PASSWORD})
        if r.status_code == 429:  # at most the username's short cap, never the hour of a lockout
            assert int(r.headers["retry-after"]) <= 61  # a minute at most
            container.clock.advance(timedelta(seconds=int(r.headers["retry-after"])))
            r = officer.post("/v1/auth/token", data={"username": "officer.one", "password": PASSWORD})
        assert r.status_code == 200, r.text


def test_an_admin_unlocks_an_officer_at_once(client, container, agencies, officer):
    user = _user(container, agencies, "officer.three")
    for _ in range(6):
        client.post("/v1/auth/token", data={"username": "officer.three", "password": "nope-nope-nope"})
    assert client.post("/v1/auth/token", data={"username": "officer.three", "password": PASSWORD}).status_code == 429
    admin = officer("admin")
    other_admin = officer("admin", "other_office")
    assert client.post(f"/v1/users/{user.id}/unlock", headers=other_admin).status_code == 404  # own agency only
    assert client.post(f"/v1/users/{user.id}/unlock", headers=officer("caseworker")).status_code == 403
    r = client.post(f"/v1/users/{user.id}/unlock", headers=admin)
    assert r.status_code == 200
    assert client.post("/v1/auth/token", data={"username": "officer.three", "password": PASSWORD}).status_code == 200


def test_unlock_from_the_command_line(client, container, agencies, monkeypatch, settings):
    _user(container, agencies, "officer.four")
    for _ in range(6):
        client.post("/v1/auth/token", data={"username": "officer.four", "password": "nope-nope-nope"})
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    r = CliRunner().invoke(cli, ["users", "unlock", "officer.four"])
    assert r.exit_code == 0, r.output
    assert client.post("/v1/auth/token", data={"username": "officer.four", "password": PASSWORD}).status_code == 200


def test_steps_and_networks():
    step = Step(free=3, first_s=5, cap_s=60)
    assert [step.delay(n) for n in range(2, 9)] == [0, 5, 10, 20, 40, 60, 60]
    assert step.delay(10**6) == 60
    assert network_of("2001:db8::1") == network_of("2001:db8::ffff") == "2001:db8::/64"
    assert network_of("::ffff:192.0.2.1") == "192.0.2.1" and network_of(None) == "unknown"
