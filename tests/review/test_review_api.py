"""The review queue through the API, with real faces, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from checkins.support import SIMON, challenge_frames
from sqlalchemy.exc import IntegrityError

from custodes.actor import Actor
from custodes.review.models import ReviewItem

PROBLEM = "application/problem+json"


@pytest.fixture
def item(client, case, enrol, open_prompt, device, face_jpeg, officer) -> dict:
    """A review item: a different person answered the prompt."""
    enrol()
    prompt = open_prompt()
    photo, frames = challenge_frames(face_jpeg, SIMON, prompt["challenge"]["kind"])
    r = device("POST", f"/{prompt['prompt_id']}", [("photo", photo)] + [("frames", f) for f in frames])
    assert r.status_code == 200 and r.json()["outcome"] == "not_verified", r.text
    reviewer = officer("reviewer", "monitoring")
    items = client.get("/v1/review/items", params={"status": "open"}, headers=reviewer).json()
    assert items["total"] == 1
    return items["items"][0]


def _decide(client, headers, item_id, decision, reason="looked at both faces"):
    return client.post(f"/v1/review/items/{item_id}/decisions", json={"decision": decision, "reason": reason},
                       headers=headers)


def _alerts(container, kind):
    with container.engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM alerts WHERE kind = :k"), {"k": kind})


def test_reviewer_sees_both_faces_side_by_side_and_each_read_is_audited(client, container, item, officer):
    reviewer = officer("reviewer", "monitoring")
    detail = client.get(f"/v1/review/items/{item['id']}", headers=reviewer).json()
    assert detail["machine_outcome"] == "not_verified" and detail["score"] < detail["threshold"]
    record = detail["decision_record"]
    assert record["target_fmr"] and record["model_version"] and record["liveness"]["passed"] is True
    assert len(detail["reference_photo_ids"]) == 3 and detail["probe_photo_id"]
    for photo_id in [*detail["reference_photo_ids"], detail["probe_photo_id"]]:
        r = client.get(f"/v1/review/items/{item['id']}/photos/{photo_id}", params={"purpose": "review of a check-in"},
                       headers=reviewer)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:3] == b"\xff\xd8\xff"
        assert r.headers["cache-control"] == "no-store"
    with container.engine.connect() as conn:
        reads = conn.execute(sa.text("SELECT actor_name, purpose FROM audit_entries WHERE action = 'read' "
                                     "AND target_type = 'face_photo'")).all()
    assert len(reads) == 4 and all(p == "review of a check-in" for _, p in reads)
    # A photo that is not part of this item cannot be fetched through it.
    other = client.get(f"/v1/review/items/{item['id']}/photos/{uuid.uuid4()}", headers=reviewer)
    assert other.status_code == 404 and other.headers["content-type"].startswith(PROBLEM)


def test_who_may_see_and_decide(client, item, officer):
    probation = officer("probation")
    assert client.get(f"/v1/review/items/{item['id']}", headers=probation).status_code == 403
    elsewhere = officer("reviewer", "police")  # a reviewer account in an agency the case is not shared with
    assert client.get(f"/v1/review/items/{item['id']}", headers=elsewhere).status_code == 404
    caseworker = officer("caseworker")
    assert _decide(client, caseworker, item["id"], "same_person").status_code == 403
    bad = _decide(client, officer("reviewer", "monitoring"), item["id"], "maybe")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


def test_same_person_closes_at_once_and_becomes_ground_truth(client, item, officer, container):
    reviewer = officer("reviewer", "monitoring")
    r = _decide(client, reviewer, item["id"], "same_person", "same scar, poor light")
    assert r.status_code == 200 and (r.json()["status"], r.json()["outcome"]) == ("closed", "same_person")
    truth = client.get("/v1/review/ground-truth", headers=officer("auditor", "monitoring")).json()
    assert truth["total"] == 1 and truth["items"][0]["human_outcome"] == "same_person"
    assert truth["items"][0]["machine_outcome"] == "not_verified" and truth["items"][0]["score"] is not None
    assert _alerts(container, "check_in_failed") == 0


def test_adverse_decision_needs_a_second_different_reviewer(client, item, officer, container):
    first, second = officer("reviewer", "monitoring"), officer("reviewer", "monitoring")
    r = _decide(client, first, item["id"], "different_person", "different nose and jaw")
    assert (r.json()["status"], r.json()["outcome"]) == ("awaiting_second", None)
    assert _alerts(container, "check_in_failed") == 0  # one person's view is not an outcome
    again = _decide(client, first, item["id"], "different_person")
    assert again.status_code == 409 and "second, different reviewer" in again.json()["detail"]
    r = _decide(client, second, item["id"], "different_person", "agree: not the enrolled person")
    assert (r.json()["status"], r.json()["outcome"]) == ("closed", "different_person")
    assert _alerts(container, "check_in_failed") == 1
    detail = client.get(f"/v1/review/items/{item['id']}", headers=second).json()
    assert len({d["reviewer_id"] for d in detail["decisions"]}) == 2
    assert _decide(client, officer("reviewer", "monitoring"), item["id"], "same_person").status_code == 409


def test_second_reviewer_disagreeing_closes_without_an_adverse_outcome(client, item, officer, container):
    first, second = officer("reviewer", "monitoring"), officer("reviewer", "monitoring")
    _decide(client, first, item["id"], "different_person")
    r = _decide(client, second, item["id"], "unusable", "probe too dark to tell")
    assert (r.json()["status"], r.json()["outcome"]) == ("closed", "unusable")
    assert _alerts(container, "check_in_failed") == 0


def test_the_database_refuses_an_adverse_outcome_without_two_reviewers(container, item):
    reviewer = uuid.uuid4()
    for first, second in [(None, None), (reviewer, None), (reviewer, reviewer)]:
        with container.uow(Actor.system("test")) as uow:
            row = uow.session.get(ReviewItem, uuid.UUID(item["id"]))
            row.first_reviewer_id, row.first_decision = first, "different_person" if first else None
            row.second_reviewer_id, row.second_decision = second, "different_person" if second else None
            row.outcome, row.status = "different_person", "closed"
            with pytest.raises(IntegrityError):
                uow.commit()


def test_a_photo_of_another_item_is_not_served_through_this_one(client, container, item, officer, open_prompt,
                                                                 device, face_jpeg, clock):
    """The photo exists, is a real face of the same case, and the reviewer may see it through its
    own item; asked through another item, it does not exist."""
    from datetime import timedelta

    reviewer = officer("reviewer", "monitoring")
    first = client.get(f"/v1/review/items/{item['id']}", headers=reviewer).json()
    assert _decide(client, reviewer, item["id"], "unusable").status_code == 200
    clock.set(clock.now() + timedelta(hours=2))  # past the retry back-off after one failure
    prompt = open_prompt()
    photo, frames = challenge_frames(face_jpeg, SIMON, prompt["challenge"]["kind"])
    r = device("POST", f"/{prompt['prompt_id']}", [("photo", photo)] + [("frames", f) for f in frames])
    assert r.status_code == 200 and r.json()["outcome"] == "not_verified", r.text
    reviewer = officer("reviewer", "monitoring")  # the clock moved past the first token's life
    listed = client.get("/v1/review/items", params={"status": "open"}, headers=reviewer)
    assert listed.status_code == 200, listed.text
    second = [i for i in listed.json()["items"]
              if i["id"] != item["id"]][0]
    own = client.get(f"/v1/review/items/{item['id']}/photos/{first['probe_photo_id']}", headers=reviewer)
    assert own.status_code == 200 and own.content[:3] == b"\xff\xd8\xff"
    other = client.get(f"/v1/review/items/{second['id']}/photos/{first['probe_photo_id']}", headers=reviewer)
    assert other.status_code == 404 and other.headers["content-type"].startswith(PROBLEM)
