"""The DPIA evidence report reads its figures from the records: monitored people, police requests by
purpose and refusals, trail reads by role and purpose, retention, alerts per subject per day."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from typer.testing import CliRunner

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.cli.main import app as cli
from custodes.lab.population import enrol
from custodes.reports import dpia
from custodes.retention import scheduled
from custodes.subject_access.models import CaseTask, Representation


def test_dpia_report_figures(client, container, clock, agencies, officer, settings, monkeypatch, tmp_path):
    now = clock.now()
    people = [enrol(container, agencies["home_office"], home=(51.5, -0.12), since=now - timedelta(days=10),
                    until=now + timedelta(days=100), curfew=None) for _ in range(2)]
    with container.uow(Actor.system("test")) as uow:
        for i, (outcome, ack_s) in enumerate((("false_alarm", 60), ("device_fault", 120), ("breach_confirmed", 600),
                                              (None, None))):
            raised = now - timedelta(days=1)
            uow.session.add(Alert(id=uuid.uuid4(), dedupe_key=f"a{i}", subject_id=people[0].subject_id,
                                  kind="device_silent" if i == 1 else "exclusion_zone_entered",
                                  category="breach", severity="high", status="resolved" if outcome else "open",
                                  evidence={}, occurred_at=raised, raised_at=raised, outcome=outcome,
                                  acknowledged_at=raised + timedelta(seconds=ack_s) if ack_s else None))
        uow.commit()
    cw, pc = officer("caseworker"), officer("police", "police")
    sid = str(people[0].subject_id)
    for purpose in ("suspected_breach", "lost_contact"):
        r = client.post("/v1/trail-grants", headers=pc, json={
            "subject_id": sid, "purpose": purpose, "justification": "reported by a witness at the scene",
            "window_from": (now - timedelta(days=2)).isoformat(), "window_to": now.isoformat()})
        assert r.status_code == 201
    grant = r.json()["id"]
    assert client.post(f"/v1/trail-grants/{grant}/decision", headers=cw,
                       json={"approve": False, "reason": "not necessary"}).status_code == 200
    params = {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat(), "purpose": "alert_triage",
              "purpose_detail": "alert a0"}
    assert client.get(f"/v1/subjects/{sid}/trail", params=params, headers=cw).status_code == 200
    assert client.get(f"/v1/subjects/{sid}/trail", params={**params, "purpose": "lost_contact", "grant_id": grant},
                      headers=pc).status_code == 403

    with container.uow(Actor.system("test")) as uow:  # the person's voice: one representation, two contests
        rep_id = uuid.uuid4()
        uow.session.add(Representation(id=rep_id, subject_id=people[0].subject_id, kind="representation",
                                       text="I was at hospital", submitted_at=now - timedelta(days=9)))
        for kind, target, opened, due, decided in (
                ("representation", rep_id, 9, 19, 4),  # answered after 5 days, in time
                ("contest", uuid.uuid4(), 8, -6, 1),  # answered after 7 days, a day late
                ("contest", uuid.uuid4(), 3, -1, None)):  # still open, overdue
            uow.session.add(CaseTask(id=uuid.uuid4(), subject_id=people[0].subject_id, kind=kind,
                                     target_type=kind, target_id=target, grounds="g", status="open" if decided is None
                                     else "decided", created_at=now - timedelta(days=opened),
                                     due_at=now + timedelta(days=due),
                                     decided_at=None if decided is None else now - timedelta(days=decided)))
        uow.commit()
    with container.uow(Actor.system("test")) as uow:
        rep = dpia.build(uow.session, clock.now(), scheduled.policy_of(container))
    assert rep["monitored"]["people"] == 2 and rep["monitored"]["by_device_kind"] == {"ankle_tag": 2}
    assert rep["necessity_and_reviews"]["necessity"]["present"] == 2  # both orders carry a necessity record
    assert rep["police_access"]["requests_by_purpose"] == {
        "suspected_breach": {"requested": 1, "pending": 1}, "lost_contact": {"requested": 1, "refused": 1}}
    assert rep["police_access"]["refused_trail_reads"] == 1
    assert rep["trail_reads"]["by_role_and_purpose"] == [{"role": "caseworker", "purpose": "alert_triage", "reads": 1}]
    voice = rep["representations_and_contests"]
    assert voice["representations"] == {"representation": 1}
    assert voice["tasks"]["representation"] == {"opened": 1, "answered": 1, "open_overdue": 0, "answered_late": 0,
                                                "days_to_answer_median": 5.0, "days_to_answer_max": 5.0}
    assert voice["tasks"]["contest"] == {"opened": 2, "answered": 1, "open_overdue": 1, "answered_late": 1,
                                         "days_to_answer_median": 7.0, "days_to_answer_max": 7.0}
    p = rep["proportionality"]
    assert p["monitored_subject_days"] == 20 and p["alerts_per_subject_per_day"] == round(4 / 20, 3)
    assert (p["share_resolved_no_breach"], p["share_resolved_device_fault"]) == (round(1 / 3, 3), round(1 / 3, 3))
    assert p["time_to_acknowledge_s"]["median"] == 120
    month = (now - timedelta(days=1)).strftime("%Y-%m")
    assert p["compliance_by_month"][month] == {"alerts": 4, "breaches_confirmed": 1, "lost_contact": 1}

    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    out = tmp_path / "dpia"
    r = CliRunner().invoke(cli, ["report", "dpia", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "dpia.json").read_text())["police_access"]["refused_trail_reads"] == 1
    assert "alerts per subject per day" in (out / "dpia.md").read_text()
