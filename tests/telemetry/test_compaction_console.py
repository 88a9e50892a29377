"""The console's trail exports (CSV, GPX) give the same bytes before and after the trail is compacted
(both databases); the API's reads are in test_compaction.py."""

from __future__ import annotations

import re
from datetime import timedelta

from custodes.lab import console_scenario
from custodes.lab.console_scenario import PASSWORD
from custodes.telemetry import compaction

from .test_compaction import _ingest


def sign_in(client, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text).group(1)
    client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token},
                follow_redirects=False)


def test_console_exports_are_the_same_after_compaction(client, container):
    scenario = console_scenario.seed(container, days=2, step_s=300)  # one upload every six hours
    now = container.clock.now()
    # and 10-fix uploads from a second device, the kind compaction merges
    _ingest(container, scenario.subject_id, scenario.spare_device_id, now - timedelta(hours=30, minutes=7), 40)
    sign_in(client, "casey")
    windows = [{"from": f"{now - timedelta(days=2):%Y-%m-%dT%H:%M}", "to": f"{now:%Y-%m-%dT%H:%M}"},
               {"from": f"{now - timedelta(hours=20, minutes=13):%Y-%m-%dT%H:%M}",
                "to": f"{now - timedelta(hours=3, minutes=41):%Y-%m-%dT%H:%M}"}]

    def exports():
        got = []
        for w in windows:
            for fmt in ("csv", "gpx"):
                r = client.get(f"/subjects/{scenario.subject_id}/trail.{fmt}",
                               params={**w, "purpose": "case_review", "detail": "compaction check"})
                assert r.status_code == 200
                got.append(r.content)
        return got

    before = exports()
    assert before[0].count(b"\n") > 2 * 24 * 12 + 400 - 5
    done = compaction.run(container)
    assert done.segments_in > done.segments_out > 0
    assert exports() == before
