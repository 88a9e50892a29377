"""Representations and contests: each is a task for a human with a deadline, answered with reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

from custodes.subject_access.notice import notice
from custodes.subject_access.texts import LANGUAGES
from custodes.subject_access.voice import MAX_ATTACHMENT_BYTES
from tests.subject_access.conftest import held_data


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_contested_decision_creates_a_task_with_a_deadline_for_a_human(client, officer, case, container, clock):
    cw = officer("caseworker")
    a = case(cw)
    held = held_data(container, clock, a["subject"]["id"], a["device"]["id"])
    r = client.post("/v1/my/contests", json={"target_type": "check_in", "target_id": held["prompt"],
                                             "grounds": "that was me; the light was poor"}, headers=a["headers"])
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["kind"] == "contest" and task["status"] == "open"
    assert _at(task["due_at"]) == clock.now() + timedelta(days=14)
    again = client.post("/v1/my/contests", json={"target_type": "check_in", "target_id": held["prompt"],
                                                 "grounds": "again"}, headers=a["headers"])
    assert again.status_code == 409
    # The owning agency's caseworkers see it in their queue; another agency's do not.
    queue = client.get("/v1/tasks", headers=cw).json()
    assert [t["id"] for t in queue["items"]] == [task["id"]]
    other = officer("caseworker", "other_office")
    assert client.get("/v1/tasks", headers=other).json()["items"] == []
    assert client.post(f"/v1/tasks/{task['id']}/decision", json={"decision": "upheld", "reason": "x" * 12},
                       headers=other).status_code == 404
    assert client.post(f"/v1/tasks/{task['id']}/decision", json={"decision": "upheld", "reason": "no"},
                       headers=cw).status_code == 422  # reasons are required, in words
    decided = client.post(f"/v1/tasks/{task['id']}/decision",
                          json={"decision": "upheld", "reason": "Reviewed the photo: it is you. Recorded as verified."},
                          headers=cw)
    assert decided.status_code == 200, decided.text
    mine = client.get("/v1/my/tasks", headers=a["headers"]).json()
    assert mine[0]["decision"] == "upheld" and mine[0]["reason"].startswith("Reviewed the photo")
    assert client.get("/v1/tasks", headers=cw).json()["items"] == []  # no longer open


def test_a_representation_is_a_task_brings_the_review_forward_and_caps_attachments(client, officer, case, clock,
                                                                                   rows):
    cw = officer("caseworker")
    a = case(cw)
    due_before = _at(a["order"]["next_review_due"])
    r = client.post("/v1/my/representations", data={"text": "My mother is ill; I need to visit her in Leeds."},
                    headers=a["headers"])
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["task"]["kind"] == "representation"
    assert _at(rep["task"]["due_at"]) == clock.now() + timedelta(days=28)
    order = client.get(f"/v1/orders/{a['order']['id']}", headers=cw).json()
    assert _at(order["next_review_due"]) == clock.now() + timedelta(days=14) < due_before
    triggers = client.get(f"/v1/orders/{a['order']['id']}/review-triggers", headers=cw).json()
    assert [(t["trigger"], t["source_id"]) for t in triggers] == [("representation", rep["id"])]
    assert "representation received" in triggers[0]["reason"]
    # Attachments are capped in size and type.
    before = rows("representations"), rows("case_tasks")
    for name, data in (("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)),
                       ("big.pdf", b"%PDF-" + bytes(MAX_ATTACHMENT_BYTES))):
        r = client.post("/v1/my/representations", data={"text": "see the attached file"},
                        files={"attachment": (name, data, "application/pdf")}, headers=a["headers"])
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "attachment", r.text
    assert (rows("representations"), rows("case_tasks")) == before  # nothing half-stored
    ok = client.post("/v1/my/representations", data={"text": "letter from my GP", "kind": "medical_evidence"},
                     files={"attachment": ("gp.txt", "Patient has a fractured wrist.".encode(), "text/plain")},
                     headers=a["headers"])
    assert ok.status_code == 201 and ok.json()["attachment_type"] == "text/plain"


def test_the_privacy_notice_is_public_in_four_languages(client, officer, case):
    english = notice("en")
    for lang in LANGUAGES:
        r = client.get("/v1/privacy-notice", params={"lang": lang})
        assert r.status_code == 200 and r.json()["language"] == lang
        assert [s["id"] for s in r.json()["sections"]] == [s["id"] for s in english["sections"]]
        assert all(len(s["text"]) > 40 for s in r.json()["sections"])
    assert {s["id"] for s in english["sections"]} >= {"what", "why", "how_long", "shared"}
    assert client.get("/v1/privacy-notice", params={"lang": "de"}).json()["language"] == "en"
    a = case(officer("caseworker"))
    assert client.get("/v1/my/privacy-notice", headers=a["headers"]).json()["language"] == "pl"
