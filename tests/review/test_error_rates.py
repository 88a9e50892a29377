"""Live error figures from reviewers' decisions (both databases)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from custodes.actor import Actor
from custodes.checkins.scheduled import sweep
from custodes.review.models import ReviewItem


def _closed(prompt_id, subject_id, reason, outcome, now):
    a, b = uuid.uuid4(), uuid.uuid4()
    two = outcome == "different_person"  # the database insists on two reviewers for it
    return ReviewItem(id=uuid.uuid4(), subject_id=subject_id, prompt_id=prompt_id, reason=reason,
                      machine_outcome="verified" if reason == "random_sample" else "not_verified",
                      status="closed", created_at=now, closed_at=now, outcome=outcome,
                      first_reviewer_id=a, first_decision=outcome, second_reviewer_id=b if two else None,
                      second_decision=outcome if two else None)


def test_error_rates_count_what_reviewers_overturned(client, container, case, officer, clock):
    # Two whole days drawn before their waking hours: ten prompts to hang review items on.
    clock.set(clock.now().replace(hour=7))
    sweep(container)
    clock.advance(timedelta(days=1))
    sweep(container)
    labels = ([("no_match", "same_person")] * 2 + [("no_match", "different_person")] * 5
              + [("no_match", "unusable")] + [("liveness_failed", "same_person")]
              + [("random_sample", "same_person")])
    with container.engine.connect() as conn:
        prompts = [uuid.UUID(str(p)) for p in conn.execute(sa.text("SELECT id FROM checkin_prompts")).scalars()]
    with container.uow(Actor.system("test")) as uow:
        now = uow.clock.now()
        for prompt_id, (reason, outcome) in zip(prompts, labels, strict=True):
            uow.session.add(_closed(prompt_id, uuid.UUID(case.subject_id), reason, outcome, now))
        uow.commit()
    rows = {r["machine_reason"]: r for r in client.get("/v1/review/error-rates",
                                                        headers=officer("auditor", "monitoring")).json()}
    no_match = rows["no_match,near_threshold"]
    assert (no_match["n"], no_match["k"], no_match["unusable"]) == (7, 2, 1)
    assert no_match["share"] == pytest.approx(2 / 7)
    assert no_match["wilson95"][0] < 2 / 7 < no_match["wilson95"][1]
    assert (rows["liveness_failed"]["n"], rows["liveness_failed"]["k"]) == (1, 1)
    assert (rows["random_sample,audit_sample"]["n"], rows["random_sample,audit_sample"]["k"]) == (1, 0)
    # Cases not shared with an agency do not count for it.
    elsewhere = client.get("/v1/review/error-rates", headers=officer("auditor", "police")).json()
    assert all(r["n"] == 0 and r["share"] is None for r in elsewhere)
