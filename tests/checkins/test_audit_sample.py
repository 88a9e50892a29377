"""The live audit sample: a configured share of verified check-ins goes to review as audit items,
chosen by a keyed hash of the prompt id alone (never by a group label), once each."""

from __future__ import annotations

import inspect
import itertools
import math
import uuid
from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.checkins import audit_sample
from custodes.checkins.audit_sample import audit_tick, sample_key, selected
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.lab.population import enrol
from custodes.orders.models import Order
from custodes.review.models import ReviewItem

_CALLS = itertools.count()


def verified_prompts(container, clock, subject_id, device_id, n, *, outcome="verified", age=timedelta(hours=2)):
    """n decided prompts of the person, closed `age` ago, each with its attempt; returns their ids."""
    at = clock.now() - age
    shift = next(_CALLS) * 200  # seconds: each call's prompts open at times of their own
    ids = []
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        order_id = s.scalars(select(Order.id).where(Order.subject_id == subject_id)).first()
        for i in range(n):
            prompt = CheckInPrompt(id=uuid.uuid4(), subject_id=subject_id, order_id=order_id, day=at.date(),
                                   opens_at=at - timedelta(minutes=15, seconds=i + shift),
                                   closes_at=at - timedelta(seconds=i + shift),
                                   status="decided", outcome=outcome, reason="match", decided_at=at,
                                   device_id=device_id, attempts=1)
            s.add(prompt)
            s.flush()
            s.add(CheckInAttempt(id=uuid.uuid4(), prompt_id=prompt.id, subject_id=subject_id, device_id=device_id,
                                 submitted_at=at, outcome=outcome, reason="match", score=0.8, threshold=0.5,
                                 model_version="t", quality={}, failure_to_acquire=False))
            ids.append(prompt.id)
        uow.commit()
    return ids


def _people(container, clock, agencies, n):
    return [enrol(container, agencies["home_office"], home=(51.5, -0.12), since=clock.now() - timedelta(days=30),
                  until=clock.now() + timedelta(days=300), curfew=None) for _ in range(n)]


def _items(container):
    with container.uow(Actor.system("test")) as uow:
        return {i.prompt_id: i for i in uow.session.scalars(select(ReviewItem))}


def test_the_selection_reads_nothing_but_the_prompt_id_and_holds_its_share():
    assert list(inspect.signature(selected).parameters) == ["key", "prompt_id", "share"]
    source = inspect.getsource(audit_sample)
    assert "DemographicRecord" not in source and "custodes.reports" not in source
    key = b"k" * 32
    ids = [uuid.UUID(int=i * 7919 + 1) for i in range(20_000)]
    hits = sum(selected(key, p, 0.1) for p in ids)
    assert abs(hits - 2000) < 4 * math.sqrt(20_000 * 0.1 * 0.9)  # within four standard deviations
    assert sum(selected(key, p, 0.0) for p in ids) == 0 and all(selected(key, p, 1.0) for p in ids[:100])
    assert [selected(b"j" * 32, p, 0.1) for p in ids[:500]] != [selected(key, p, 0.1) for p in ids[:500]]


def test_a_share_of_verified_check_ins_is_queued_for_review_once_and_labels_change_nothing(
        client, container, clock, agencies, officer):
    people = _people(container, clock, agencies, 2)
    cw = officer("caseworker")
    for person, group in zip(people, ("black", "white"), strict=True):
        assert client.put(f"/v1/subjects/{person.subject_id}/demographics", headers=cw,
                          json={"attribute": "ethnicity", "value": group, "consent": True}).status_code == 200
    first = {p.subject_id: verified_prompts(container, clock, p.subject_id, p.device_id, 60) for p in people}
    rejected = verified_prompts(container, clock, people[0].subject_id, people[0].device_id, 20,
                                outcome="not_verified")
    old = verified_prompts(container, clock, people[0].subject_id, people[0].device_id, 20, age=timedelta(days=3))
    key = sample_key(container)
    expected = {p for ids in first.values() for p in ids if selected(key, p, 0.3)}
    assert 10 <= len(expected) <= 60

    done = audit_tick(container, share=0.3)
    assert (done.verified, done.selected, done.queued) == (120, len(expected), len(expected))
    items = _items(container)
    assert set(items) == expected  # exactly the keyed-hash choice: nothing about the person entered it
    assert not set(items) & (set(rejected) | set(old))
    assert {(i.reason, i.machine_outcome, i.status) for i in items.values()} == {("audit_sample", "verified", "open")}
    assert all(i.score == 0.8 and i.attempt_id is not None for i in items.values())
    assert audit_tick(container, share=0.3).queued == 0  # every tick, every worker: once

    # Swap the groups' labels, then a new day's check-ins: again exactly the hash's choice.
    for person, group in zip(people, ("white", "black"), strict=True):
        assert client.put(f"/v1/subjects/{person.subject_id}/demographics", headers=cw,
                          json={"attribute": "ethnicity", "value": group, "consent": True}).status_code == 200
    clock.advance(timedelta(hours=12))
    second = [p for person in people for p in verified_prompts(container, clock, person.subject_id,
                                                                person.device_id, 60)]
    audit_tick(container, share=0.3)
    assert set(_items(container)) - expected == {p for p in second if selected(key, p, 0.3)}

    reviewer = officer("reviewer")  # a reviewer the owning agency's cases are visible to
    queue = client.get("/v1/review/items", params={"status": "open", "limit": 200}, headers=reviewer).json()
    assert {i["reason"] for i in queue["items"]} == {"audit_sample"} and queue["total"] == len(_items(container))


def test_the_share_comes_from_the_settings(client, container, clock, agencies):
    (person,) = _people(container, clock, agencies, 1)
    verified_prompts(container, clock, person.subject_id, person.device_id, 10)
    assert container.settings.checkin_audit_share == 0.02  # the default
    none = container.__class__(**{**container.__dict__, "settings": container.settings.model_copy(
        update={"checkin_audit_share": 0.0})})
    assert audit_tick(none).selected == 0
    every = container.__class__(**{**container.__dict__, "settings": container.settings.model_copy(
        update={"checkin_audit_share": 1.0})})
    assert audit_tick(every).queued == 10
