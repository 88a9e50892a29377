"""The alert queue: assignment within the agency, filters, and the live stream of new alerts."""

import json
import threading
import time
import uuid
from datetime import timedelta

import httpx
import uvicorn

from custodes.actor import Actor
from custodes.alerts import feed, service
from custodes.app import create_app
from custodes.lab.broker import free_port
from custodes.subjects.models import Subject


def _raise(container, subject_id, key, kind="curfew_breach", category="breach", severity="high"):
    with container.uow(Actor.system("rules")) as uow:
        alert, _ = service.raise_alert(uow=uow, subject_id=uuid.UUID(subject_id), kind=kind, category=category,
                                       severity=severity, occurred_at=container.clock.now(), dedupe_key=key,
                                       evidence={"fix_ids": [1]})
        uow.commit()
    return alert


def _me(client, headers):
    return client.get("/v1/me", headers=headers).json()


def test_assign_to_an_officer_of_the_same_agency_only(client, container, officer, new_subject):
    cw, colleague = officer("caseworker"), officer("caseworker")
    alert = _raise(container, new_subject(cw)["id"], "k1")
    handlers = client.get("/v1/alerts/handlers", headers=cw).json()
    target = next(h for h in handlers if h["username"].startswith("caseworker") and h["id"] != _me(client, cw)["id"])
    r = client.post(f"/v1/alerts/{alert.id}/assign", json={"officer_id": target["id"]}, headers=cw)
    assert r.status_code == 200 and r.json()["assigned_to"] == target["id"]
    mine = client.get(f"/v1/alerts?assigned_to={target['id']}", headers=colleague).json()
    assert mine["total"] == 1
    foreigner = officer("caseworker", "other_office")
    other_id = _me(client, foreigner)["id"]
    bad = client.post(f"/v1/alerts/{alert.id}/assign", json={"officer_id": other_id}, headers=cw)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "officer_id"
    assert client.post(f"/v1/alerts/{alert.id}/assign", json={"officer_id": None},
                       headers=cw).json()["assigned_to"] is None
    assert client.post(f"/v1/alerts/{alert.id}/assign", json={"officer_id": other_id},
                       headers=foreigner).status_code == 404


def test_filters_by_kind_severity_agency_and_age(client, container, officer, new_subject, clock, agencies):
    cw = officer("caseworker")
    s = new_subject(cw)
    _raise(container, s["id"], "old", severity="low")
    clock.advance(timedelta(hours=3))
    _raise(container, s["id"], "fault", kind="battery_low", category="device_fault", severity="medium")
    cw = officer("caseworker")  # signed in now (the first token has expired meanwhile)
    q = client.get
    assert q("/v1/alerts?severity=medium", headers=cw).json()["total"] == 1
    assert q("/v1/alerts?kind=curfew_breach", headers=cw).json()["total"] == 1
    older = (clock.now() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    aged = q(f"/v1/alerts?before={older}", headers=cw).json()
    assert aged["total"] == 1 and aged["items"][0]["severity"] == "low"
    assert q(f"/v1/alerts?agency_id={agencies['home_office']}", headers=cw).json()["total"] == 2
    assert q(f"/v1/alerts?agency_id={agencies['other_office']}", headers=cw).json()["total"] == 0


def test_the_feed_sends_only_new_visible_alerts_once(container, officer, new_subject, clock):
    mine = new_subject(officer("caseworker"))
    theirs = new_subject(officer("caseworker", "other_office"))
    _raise(container, mine["id"], "before")
    with container.uow(Actor.system("test")) as uow:
        agency = uow.session.get(Subject, uuid.UUID(mine["id"])).agency_id
    reader = Actor(kind="user", id=str(uuid.uuid4()), name="reader", agency_id=agency)
    with container.uow(reader) as uow:
        f = feed.AlertFeed(uow, clock.now())
        assert f.poll(uow) == []  # what was on the page already is not news
    new = _raise(container, mine["id"], "after")
    _raise(container, theirs["id"], "theirs")
    with container.uow(reader) as uow:
        assert [a.id for a in f.poll(uow)] == [new.id]
        assert f.poll(uow) == []


def test_the_stream_delivers_an_alert_raised_while_connected(container, client, officer, new_subject):
    cw = officer("caseworker")
    s = new_subject(cw)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        events: list[dict] = []
        with (httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
              http.stream("GET", "/v1/alerts/stream?poll=0.2", headers=cw) as r):
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            raised = None
            for line in r.iter_lines():
                if raised is None:  # connected: now raise one
                    raised = _raise(container, s["id"], "live")
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    break
        assert [e["id"] for e in events] == [str(raised.id)]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
