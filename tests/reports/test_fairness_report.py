"""The fairness report: per consented group, FTA and live FNMR with Wilson intervals that match an
independent closed-form computation here; same-group FMR from an evaluation file; ratio and flags."""

from __future__ import annotations

import json
import math
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from custodes.actor import Actor
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.checkins.audit_sample import audit_tick
from custodes.cli.main import app as cli
from custodes.lab.population import enrol
from custodes.orders.models import Order
from custodes.reports import dpia, fairness
from custodes.reports.models import DemographicRecord
from custodes.review.models import ReviewItem
from tests.checkins.test_audit_sample import verified_prompts

Z = 1.959964


def wilson_closed_form(k: int, n: int) -> tuple[float, float]:
    """The Wilson bounds as the roots of (p̂ - p)² = z² p (1 - p) / n, solved for p."""
    a = n + Z * Z
    b = -(2 * k + Z * Z)
    c = k * k / n
    disc = math.sqrt(b * b - 4 * a * c)
    return ((-b - disc) / (2 * a), (-b + disc) / (2 * a))


# group -> (attempts, failures to acquire, verified check-ins, reviewed "same person" after a non-match)
PLAN = {"asian": (40, 6, 30, 6), "black": (50, 12, 28, 12), "white": (60, 2, 55, 1)}


def _populate(client, container, clock, agencies, officer):
    cw = officer("caseworker")
    ids = {}
    for group, (attempts, ftas, verified, fnm) in PLAN.items():
        p = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=clock.now() - timedelta(days=30),
                  until=clock.now() + timedelta(days=300), curfew=None)
        ids[group] = p.subject_id
        r = client.put(f"/v1/subjects/{p.subject_id}/demographics", headers=cw,
                       json={"attribute": "ethnicity", "value": group, "consent": True})
        assert r.status_code == 200, r.text
        at = clock.now() - timedelta(days=1)
        with container.uow(Actor.system("test")) as uow:
            s = uow.session
            order_id = s.scalars(select(Order.id).where(Order.subject_id == p.subject_id)).one()
            for i in range(max(attempts, verified + fnm)):
                prompt = CheckInPrompt(id=uuid.uuid4(), subject_id=p.subject_id, order_id=order_id, day=at.date(),
                                       opens_at=at + timedelta(minutes=i), closes_at=at + timedelta(minutes=i + 15),
                                       status="decided", device_id=p.device_id, decided_at=at,
                                       outcome="verified" if i < verified else "not_verified")
                s.add(prompt)
                s.flush()
                if i < attempts:
                    s.add(CheckInAttempt(id=uuid.uuid4(), prompt_id=prompt.id, subject_id=p.subject_id,
                                         device_id=p.device_id, submitted_at=at, outcome="not_verified",
                                         reason="quality" if i < ftas else "low_score", model_version="t",
                                         quality={}, failure_to_acquire=i < ftas))
                if verified <= i < verified + fnm:
                    s.add(ReviewItem(id=uuid.uuid4(), subject_id=p.subject_id, prompt_id=prompt.id,
                                     reason="low_score", machine_outcome="not_verified", score=0.3, threshold=0.5,
                                     status="closed", created_at=at, outcome="same_person", closed_at=at))
            uow.commit()
    return ids


def test_intervals_match_an_independent_computation_and_the_outlier_is_flagged(client, container, clock, agencies,
                                                                              officer):
    _populate(client, container, clock, agencies, officer)
    with container.uow(Actor.system("test")) as uow:
        rep = fairness.build(uow.session, t_from=None, t_to=None)
    live = rep["live"]["ethnicity"]
    for group, (attempts, ftas, verified, fnm) in PLAN.items():
        for metric, k, n in (("fta", ftas, attempts), ("fnmr", fnm, verified + fnm)):
            row = live[metric]["groups"][group]
            assert (row["k"], row["n"]) == (k, n)
            assert row["ci95"] == pytest.approx(wilson_closed_form(k, n), abs=1e-9)
    fta = live["fta"]["comparison"]
    assert fta["max_min_ratio"] == pytest.approx((12 / 50) / (2 / 60))
    assert fta["wholly_above_others"] == []  # asian's interval overlaps black's
    fnmr = live["fnmr"]["comparison"]
    assert fnmr["max_min_ratio"] == pytest.approx((12 / 40) / (1 / 56))


def test_evaluation_fmr_per_group_and_the_threshold_claim(tmp_path):
    ev = {"per_group": {"target_fmr": 1e-3, "race": [
        {"group": "african", "genuine_pairs": 200, "fnmr": 0.05, "same_group_impostor_pairs": 20000,
         "same_group_fmr": 0.004},
        {"group": "caucasian", "genuine_pairs": 2000, "fnmr": 0.02, "same_group_impostor_pairs": 200000,
         "same_group_fmr": 0.0001},
        {"group": "indian", "genuine_pairs": 100, "fnmr": 0.03, "same_group_impostor_pairs": 10000,
         "same_group_fmr": 0.0005},
        {"group": "multiple", "genuine_pairs": 100, "fnmr": 0.03, "same_group_impostor_pairs": 10000,
         "same_group_fmr": 0.05}]}}  # people of several labels: shown, never compared
    path = tmp_path / "faces-eval.json"
    path.write_text(json.dumps(ev))
    out = fairness.from_evaluation(path)["attributes"]["race"]
    assert out["african"]["same_group_fmr"]["k"] == 80
    assert out["african"]["same_group_fmr"]["ci95"] == pytest.approx(wilson_closed_form(80, 20000), abs=1e-12)
    assert out["african"]["threshold_meets_target"] == "above target"
    assert out["caucasian"]["threshold_meets_target"] == "within target"
    assert out["indian"]["threshold_meets_target"] == "not distinguishable"
    rows = {g: r["same_group_fmr"] for g, r in out.items()}
    assert fairness.compare(rows)["wholly_above_others"] == ["african"]
    assert fairness.compare(rows)["max_min_ratio"] == pytest.approx(40.0)


def test_command_writes_markdown_json_and_a_chart(client, container, clock, agencies, officer, settings, monkeypatch,
                                                  tmp_path):
    _populate(client, container, clock, agencies, officer)
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    out = tmp_path / "report"
    r = CliRunner().invoke(cli, ["report", "fairness", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "fairness.json").read_text())
    assert data["live"]["ethnicity"]["fta"]["groups"]["black"]["k"] == 12
    md = (out / "fairness.md").read_text()
    assert "| black | 24.00% [" in md and "fairness.png" in md
    assert (out / "fairness.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["report", "fairness", "--out", str(out), "--from", "yesterday"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_only_reports_read_demographic_records():
    """No decision may use a demographic attribute: no package but reports imports their model."""
    from pathlib import Path

    import custodes

    root = Path(custodes.__file__).parent
    users = [str(p.relative_to(root)) for p in root.rglob("*.py")
             if "DemographicRecord" in p.read_text() and p.parts[-2] != "reports" and p.name != "registry.py"]
    assert users == []


# group -> (audit items reviewers could judge, of which "different person"); each group also gets one "unusable"
AUDIT_PLAN = {"asian": (12, 3), "black": (15, 5), "white": (20, 1)}


def test_audited_fmr_per_group_from_the_live_audit_sample_beside_the_evaluation(
        client, container, clock, agencies, officer, settings, monkeypatch, tmp_path):
    cw = officer("caseworker")
    for group, (judged, _) in AUDIT_PLAN.items():
        p = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=clock.now() - timedelta(days=30),
                  until=clock.now() + timedelta(days=300), curfew=None)
        assert client.put(f"/v1/subjects/{p.subject_id}/demographics", headers=cw,
                          json={"attribute": "ethnicity", "value": group, "consent": True}).status_code == 200
        verified_prompts(container, clock, p.subject_id, p.device_id, judged + 1)
    assert audit_tick(container, share=1.0).queued == sum(j + 1 for j, _ in AUDIT_PLAN.values())

    first, second = officer("reviewer"), officer("reviewer")
    items = client.get("/v1/review/items", params={"status": "open", "limit": 200}, headers=first).json()["items"]
    with container.uow(Actor.system("test")) as uow:
        group_of = {str(r.subject_id): r.value for r in uow.session.scalars(select(DemographicRecord))}
    seen: dict[str, int] = {g: 0 for g in AUDIT_PLAN}
    for item in items:
        group = group_of[item["subject_id"]]
        judged, different = AUDIT_PLAN[group]
        i = seen[group]
        seen[group] += 1
        decision = "unusable" if i == judged else "different_person" if i < different else "same_person"
        url = f"/v1/review/items/{item['id']}/decisions"
        body = {"decision": decision, "reason": "compared both faces"}
        assert client.post(url, json=body, headers=first).status_code == 200
        if decision == "different_person":  # an adverse finding needs a second reviewer to agree
            r = client.post(url, json=body, headers=second)
            assert r.status_code == 200 and r.json()["outcome"] == "different_person"

    with container.uow(Actor.system("test")) as uow:
        rep = fairness.build(uow.session, t_from=None, t_to=None)
    audited = rep["live"]["ethnicity"]["audited_fmr"]
    for group, (judged, different) in AUDIT_PLAN.items():
        row = audited["groups"][group]
        assert (row["k"], row["n"]) == (different, judged)  # "unusable" is left out of n
        assert row["rate"] == pytest.approx(different / judged)
        assert row["ci95"] == pytest.approx(wilson_closed_form(different, judged), abs=1e-9)
    assert audited["comparison"]["max_min_ratio"] == pytest.approx((5 / 15) / (1 / 20))
    with container.uow(Actor.system("test")) as uow:
        by_reason = dpia.checkins(uow.session)["review_items_by_reason_and_outcome"]
    assert by_reason == {"audit_sample:same_person": 38, "audit_sample:different_person": 9,
                         "audit_sample:unusable": 3}

    ev = {"per_group": {"target_fmr": 1e-3, "race": [
        {"group": "african", "genuine_pairs": 200, "fnmr": 0.05, "same_group_impostor_pairs": 20000,
         "same_group_fmr": 0.004}]}}
    (tmp_path / "ev.json").write_text(json.dumps(ev))
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    out = tmp_path / "report"
    r = CliRunner().invoke(cli, ["report", "fairness", "--out", str(out), "--faces-eval", str(tmp_path / "ev.json")])
    assert r.exit_code == 0, r.output
    md = (out / "fairness.md").read_text()
    live_at, eval_at = md.index("### Live, from the audit sample"), md.index("### From an evaluation")
    assert live_at < md.index("| black | 33.33% [") < eval_at < md.index("| african | 0.40% [")
    data = json.loads((out / "fairness.json").read_text())
    assert data["live"]["ethnicity"]["audited_fmr"]["groups"]["white"]["k"] == 1
