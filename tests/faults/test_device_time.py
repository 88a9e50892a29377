"""Faults of device time: a tag whose clock is 10 minutes fast, and a tag that comes back with a week-old
buffer. The fast clock is refused with a readable 401 and the server's Date, so the device corrects
itself and loses nothing; the old buffer is accepted and every fix is judged at its own time (the
breach alert is dated a week ago, raised once)."""

from __future__ import annotations

from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.field.platform import Platform

from .load import BREACH_SEQ, assert_nothing_lost_or_twice, batch, population, wait_processed

BATCHES = 5


def test_a_fast_clock_is_told_the_time_and_a_week_old_buffer_is_judged_at_its_own_time(
        container, api, workers, agencies):
    fast, back = population(container, agencies["home_office"], 2, days=10)
    workers.start("device-time-worker")
    http = Platform(api.url, "nobody", "nothing", timeout=10)
    now = container.clock.now
    accepted: dict = {}
    try:
        # The fast tag: its fixes carry GPS time (right), its request clock is 10 minutes ahead.
        t_fast = now() - timedelta(hours=1)
        r = http.upload(fast.client, batch(0, t_fast), now() + timedelta(minutes=10))
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert "clock" in r.json()["detail"]
        offset = parsedate_to_datetime(r.headers["date"]) - (now() + timedelta(minutes=10))
        assert abs(offset + timedelta(minutes=10)) < timedelta(seconds=5), "the Date header sets it right"
        for seq in range(BATCHES):  # corrected from the server's Date, it sends its whole buffer
            r = http.upload(fast.client, batch(seq, t_fast), now() + timedelta(minutes=10) + offset)
            assert r.status_code == 202, r.text
            accepted[(fast.device_id, seq)] = r.json()["accepted"]

        # The tag back from a week out of coverage: its buffer, oldest first.
        t_back = now() - timedelta(days=7)
        for seq in range(BATCHES):
            r = http.upload(back.client, batch(seq, t_back), now())
            assert r.status_code == 202, r.text
            accepted[(back.device_id, seq)] = r.json()["accepted"]
        state = wait_processed(container, 2 * BATCHES, timeout=60)
    finally:
        http.http.close()

    assert_nothing_lost_or_twice(state, accepted, [fast, back], BATCHES)
    with container.uow(Actor.system("test")) as uow:
        occurred = {(sid, kind): at for sid, kind, at in uow.session.execute(
            select(Alert.subject_id, Alert.kind, Alert.occurred_at))}
    breach_at = {p.subject_id: t + timedelta(minutes=5 * BREACH_SEQ) for p, t in ((fast, t_fast), (back, t_back))}
    for (sid, kind), at in occurred.items():
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        assert breach_at[sid] <= at < breach_at[sid] + timedelta(minutes=5), (kind, at, breach_at[sid])
    print(f"device time: fast clock refused once then {BATCHES} batches accepted; week-old buffer of {BATCHES} "
          f"batches judged at its own time ({len(occurred)} alerts, each dated at its fix)")
