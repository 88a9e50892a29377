"""The check-in sweep with an injected clock: draws each day once, raises `check_in_missed` once
per unanswered prompt, and sends prompts where the wearer tried but failed to a human."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from checkins.support import GATES, dark
from custodes.checkins.scheduled import sweep
from custodes.cli.main import app
from custodes.runner import Runner


def _count(container, sql: str) -> int:
    with container.engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _prompts(container) -> list[tuple]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT opens_at, closes_at, status FROM checkin_prompts"))]


def _utc(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite: naive UTC text
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_policy_started_mid_day_draws_no_prompt_already_past(container, case, clock):
    # 12:00 UTC on 15 January, the policy created just now: yesterday and this morning were never
    # asked, so nothing of them may be drawn, nor be missed.
    first = sweep(container)
    assert first.missed == 0
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") == 0
    drawn = _prompts(container)
    assert first.drawn == len(drawn) <= 5
    assert all(_utc(closes) > clock.now() for _, closes, _ in drawn)


def test_sweep_draws_days_and_raises_one_alert_per_missed_prompt(container, case, clock):
    clock.set(clock.now().replace(hour=7))  # before waking hours: the whole of 15 January is still to come
    first = sweep(container)
    assert (first.drawn, first.missed) == (5, 0)  # and nothing of 14 January, which was never asked
    again = sweep(container)  # same minute: nothing new, no duplicate alert
    assert (again.drawn, again.missed) == (0, 0)
    clock.advance(timedelta(days=1))
    later = sweep(container)
    assert (later.drawn, later.missed) == (5, 5)
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed' "
                             "AND category = 'check_in' AND status = 'open'") == 5
    clock.advance(timedelta(days=1))
    last = sweep(container)
    assert (last.drawn, last.missed) == (5, 5)
    assert _count(container, "SELECT count(*) FROM checkin_prompts WHERE status = 'pending'") == 5
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") == 10
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
    from custodes.actor import Actor
    from custodes.orders.models import Condition

    with container.uow(Actor.system("test")) as uow:
        condition = uow.session.query(Condition).filter(Condition.kind == "check_in_policy").one()
        condition.spec = {**condition.spec, "quiet_hours": [{"start": "13:00", "end": "13:00"}]}
        uow.commit()
    assert sweep(container).drawn == 0
    assert sweep(container).drawn == 0  # and still only one alert
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_policy_invalid' "
                             "AND category = 'integrity'") == 1


def test_serve_and_worker_loops_run_the_sweep(container, case, clock):
    clock.set(clock.now().replace(hour=7))  # the runner draws all of 15 January, then misses it the next day
    runner = Runner(container, mqtt=False, name="sweep-test", notify=False, tick_s=3600, sweep_s=0.05)
    runner.start()
    try:
        for _ in range(200):
            if _count(container, "SELECT count(*) FROM checkin_prompts") == 5:
                break
            time.sleep(0.05)
        clock.advance(timedelta(days=1))
        for _ in range(200):
            if _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") == 5:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    assert _count(container, "SELECT count(*) FROM checkin_prompts") == 10
    assert _count(container, "SELECT count(*) FROM alerts WHERE kind = 'check_in_missed'") == 5
