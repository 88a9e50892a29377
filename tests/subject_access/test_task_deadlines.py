"""A contest or representation unanswered at its deadline raises an alert to the owning agency's
caseworkers, exactly once; one answered in time raises none; the runner runs the check; the DPIA
report shows the overdue tasks and the alerts they raised."""

from __future__ import annotations

import time
from datetime import timedelta

from custodes.actor import Actor
from custodes.reports import dpia
from custodes.retention import scheduled as retention
from custodes.runner import Runner
from custodes.subject_access.scheduled import ALERT_TASK_OVERDUE, task_overdue_tick
from custodes.subject_access.texts import LANGUAGES, TEXTS
from custodes.subject_access.voice import CONTEST_ANSWER_DAYS
from tests.subject_access.conftest import held_data


def _overdue_alerts(client, headers):
    return client.get("/v1/alerts", params={"kind": ALERT_TASK_OVERDUE}, headers=headers).json()["items"]


def _contest(client, person, target_type, target_id):
    r = client.post("/v1/my/contests", json={"target_type": target_type, "target_id": target_id,
                                             "grounds": "that was me; the light was poor"}, headers=person["headers"])
    assert r.status_code == 201, r.text
    return r.json()


def test_an_unanswered_contest_raises_one_alert_at_its_deadline_and_an_answered_one_none(
        client, officer, case, container, clock):
    cw = officer("caseworker")
    a = case(cw)
    held = held_data(container, clock, a["subject"]["id"], a["device"]["id"])
    late = _contest(client, a, "check_in", held["prompt"])
    answered = _contest(client, a, "alert", held["alert"])
    assert client.post(f"/v1/tasks/{answered['id']}/decision", headers=cw,
                       json={"decision": "not_upheld", "reason": "The alert stands: the device was silent."}
                       ).status_code == 200
    clock.advance(timedelta(days=CONTEST_ANSWER_DAYS) - timedelta(minutes=1))
    assert task_overdue_tick(container).raised == 0  # not yet due
    clock.advance(timedelta(minutes=2))
    first = task_overdue_tick(container)
    assert (first.overdue, first.raised) == (1, 1)
    assert task_overdue_tick(container).raised == 0  # every tick, every worker: still one alert
    clock.advance(timedelta(days=3))
    assert task_overdue_tick(container).raised == 0  # still unanswered days later: still one

    cw = officer("caseworker")  # signed in again: the clock moved on
    (alert,) = _overdue_alerts(client, cw)
    assert alert["subject_id"] == a["subject"]["id"] and alert["category"] == "casework"
    assert alert["evidence"]["task_id"] == late["id"] and alert["evidence"]["task_kind"] == "contest"
    assert _overdue_alerts(client, officer("caseworker", "other_office")) == []
    mine = client.post("/v1/my/token", data={"username": a["credentials"]["username"],
                                             "password": a["credentials"]["password"]}).json()["access_token"]
    words = [i["what"] for i in client.get("/v1/my/alerts", headers={"Authorization": f"Bearer {mine}"}).json()]
    assert TEXTS["pl"]["alert.task_overdue"] in words  # in the person's language (the fixture's is Polish)

    # Answering late does not raise it again, and the DPIA report counts what happened.
    assert client.post(f"/v1/tasks/{late['id']}/decision", headers=cw,
                       json={"decision": "upheld", "reason": "Reviewed the photo: it is you. Recorded as verified."}
                       ).status_code == 200
    assert task_overdue_tick(container).overdue == 0
    with container.uow(_system()) as uow:
        rep = dpia.build(uow.session, uow.clock.now(), retention.policy_of(container))
    tasks = rep["representations_and_contests"]
    assert tasks["tasks"]["contest"]["answered_late"] == 1 and tasks["tasks"]["contest"]["open_overdue"] == 0
    assert tasks["overdue_alerts_raised"] == {"contest": 1}


def test_the_runner_raises_the_overdue_task_alert_by_itself(client, officer, case, container, clock):
    cw = officer("caseworker")
    a = case(cw)
    r = client.post("/v1/my/representations", data={"text": "My mother is ill; I need to visit her in Leeds."},
                    headers=a["headers"])
    assert r.status_code == 201
    clock.advance(timedelta(days=29))
    runner = Runner(container, mqtt=False, name="tasks-test", tick_s=3600, sweep_s=0.05, notify=False,
                    checkpoint_s=0)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _overdue_alerts(
                client, officer("caseworker")):
            time.sleep(0.1)
    finally:
        runner.stop()
    (alert,) = _overdue_alerts(client, officer("caseworker"))
    assert alert["evidence"]["task_kind"] == "representation"


def _system():
    return Actor.system("test")


def test_the_overdue_task_alert_is_worded_in_every_language():
    assert all(TEXTS[lang].get("alert.task_overdue") for lang in LANGUAGES)


def test_a_tick_reaches_every_overdue_task_however_many(client, officer, case, container, clock):
    """An unanswered task stays open after its alert: a pass over only the first chunk would take the
    same tasks at every tick and never reach the others."""
    cw = officer("caseworker")
    a = case(cw)
    held = held_data(container, clock, a["subject"]["id"], a["device"]["id"])
    _contest(client, a, "check_in", held["prompt"])
    _contest(client, a, "alert", held["alert"])
    clock.advance(timedelta(days=CONTEST_ANSWER_DAYS, minutes=1))
    first = task_overdue_tick(container, batch=1)
    assert (first.overdue, first.raised) == (2, 2)
    assert task_overdue_tick(container, batch=1).raised == 0
