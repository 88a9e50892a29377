"""The check-in sweep with an injected clock: draws each day once, raises `check_in_missed` once
per unanswered prompt, and sends prompts where the wearer tried but failed to a human."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from checkins.support import GATES, dark
from custodes.checkins.scheduled import sweep
from custodes.cli.main import app
from custodes.runner import Runner


def _count(container, sql: str) -> int:
    with container.engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_sweep_draws_days_and_raises_one_alert_per_missed_prompt(container, case, clock):
    # 12:00 UTC on 15 January: yesterday's five prompts are over, and today's before noon too.
    first = sweep(container)
    assert first.drawn == 10
    overdue = _count(container, "SELECT count(*) FROM checkin_prompts WHERE status = 'missed'")
    assert first.missed == overdue >= 5
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed' "
                             "AND category = 'check_in' AND status = 'open'") == overdue
    again = sweep(container)  # same minute: nothing new, no duplicate alert
    assert (again.drawn, again.missed) == (0, 0)
    clock.advance(timedelta(days=1))
    later = sweep(container)
    missed = _count(container, "SELECT count(*) FROM checkin_prompts WHERE status = 'missed'")
    assert later.drawn == 5 and later.missed == missed - overdue >= 10 - overdue
    assert _count(container, "SELECT count(*) FROM checkin_prompts WHERE status = 'pending'") == 15 - missed
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") == missed
    assert _count(container, "SELECT count(*) FROM review_items") == 0  # nobody tried: alerts only


def test_a_prompt_missed_after_failures_to_acquire_goes_to_a_human(container, case, enrol, open_prompt, device,
                                                                  face_jpeg, clock):
    enrol()
    prompt = open_prompt()
    r = device("POST", f"/{prompt['prompt_id']}", [("photo", dark(face_jpeg(GATES["probe"])))])
    assert r.json()["status"] == "retry"
    clock.set(clock.now() + timedelta(minutes=20))  # past the 15-minute response window
    report = sweep(container)
    assert report.reviews == 1
    with container.engine.connect() as conn:
        item = conn.execute(sa.text("SELECT reason, machine_outcome, status FROM review_items")).one()
    assert tuple(item) == ("repeated_failure_to_acquire", "inconclusive", "open")


def test_sweep_command_runs_once_and_prints_json(settings, monkeypatch):
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    r = CliRunner().invoke(app, ["checkins", "sweep", "--home", str(settings.home)])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)) == {"at", "drawn", "missed", "reviews"}


def test_a_policy_that_cannot_be_applied_raises_an_alert_and_spares_the_others(container, case, clock):
    from custodes.access.actor import Actor
    from custodes.orders.models import Condition

    with container.uow(Actor.system("test")) as uow:
        condition = uow.session.query(Condition).filter(Condition.kind == "check_in_policy").one()
        condition.spec = {**condition.spec, "quiet_hours": [{"start": "13:00", "end": "13:00"}]}
        uow.commit()
    assert sweep(container).drawn == 0
    assert sweep(container).drawn == 0  # and still only one alert
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_policy_invalid' "
                             "AND category = 'integrity'") == 1


def test_serve_and_worker_loops_run_the_sweep(container, case):
    runner = Runner(container, mqtt=False, name="sweep-test", notify=False, tick_s=3600, sweep_s=0.05)
    runner.start()
    try:
        for _ in range(200):
            if _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") > 0:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    assert _count(container, "SELECT count(*) FROM checkin_prompts") == 10
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") >= 5
