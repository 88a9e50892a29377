"""Fixtures for retention: people whose legal basis ended at chosen times, each holding every data class."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.checkins.models import CheckInAttempt, CheckInPrompt, FaceEnrolment, FacePhoto
from custodes.lab.device_client import encode, fix
from custodes.lab.population import Monitored, enrol
from custodes.orders.models import Order
from custodes.review.models import ReviewDecision, ReviewItem
from custodes.telemetry import service as ingest
from custodes.telemetry.pipeline import Pipeline

HOME = (51.5, -0.12)
# What each person holds, per table (the test counts rows itself, independently of retention's code).
HELD = {"telemetry_batches": 2, "trail_fixes": 20, "probe_photos": 2, "face_enrolments": 1, "reference_photos": 1,
        "alerts": 2, "review_items": 1, "review_decisions": 1}


def _load_everything(container, clock, person: Monitored, at: datetime) -> None:
    """Two uploads (10 fixes each) stored and processed at `at`; a face enrolment with its reference
    photo; a check-in with two probe photos reviewed by a human; two alerts."""
    back = clock.now()
    clock.set(at)
    for seq in (1, 2):
        items = [fix(at - timedelta(minutes=30 - seq * 10 - i), *person.home, 5.0) for i in range(10)]
        ingest.ingest(container, device_id=person.device_id, body=encode(seq, items), ndjson=False, channel="http",
                      signature="test", actor=Actor(kind="device", id=str(person.device_id), name=None))
    Pipeline(container).run_once()
    sid = person.subject_id
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        order_id = s.scalars(sa.select(Order.id).where(Order.subject_id == sid)).first()
        enr = FaceEnrolment(id=uuid.uuid4(), subject_id=sid, status="active", template_sealed=b"sealed-template",
                            key_id="k1", engine_version="test", image_count=1, quality=[], created_at=at)
        s.add(enr)
        s.flush()
        s.add(FacePhoto(id=uuid.uuid4(), subject_id=sid, role="reference", enrolment_id=enr.id,
                        content_type="image/jpeg", size_bytes=10, photo_sealed=b"sealed-ref", key_id="k1",
                        created_at=at))
        prompt = CheckInPrompt(id=uuid.uuid4(), subject_id=sid, order_id=order_id, day=at.date(), opens_at=at,
                               closes_at=at + timedelta(minutes=15), status="decided", outcome="not_verified",
                               reason="low_score", device_id=person.device_id, attempts=2)
        s.add(prompt)
        s.flush()
        attempt = None
        for i in range(2):
            photo = FacePhoto(id=uuid.uuid4(), subject_id=sid, role="probe", content_type="image/jpeg", size_bytes=10,
                              photo_sealed=b"sealed-probe", key_id="k1", created_at=at)
            s.add(photo)
            s.flush()
            attempt = CheckInAttempt(id=uuid.uuid4(), prompt_id=prompt.id, subject_id=sid, device_id=person.device_id,
                                     submitted_at=at + timedelta(minutes=i), outcome="not_verified", reason="low_score",
                                     score=0.2, threshold=0.5, model_version="test", quality={},
                                     enrolment_id=enr.id, probe_photo_id=photo.id)
            s.add(attempt)
            s.flush()
        item = ReviewItem(id=uuid.uuid4(), subject_id=sid, prompt_id=prompt.id, attempt_id=attempt.id,
                          reason="low_score", machine_outcome="not_verified", status="closed", created_at=at,
                          first_reviewer_id=uuid.uuid4(), first_decision="same_person", outcome="same_person",
                          closed_at=at)
        s.add(item)
        s.flush()
        s.add(ReviewDecision(id=uuid.uuid4(), item_id=item.id, reviewer_id=item.first_reviewer_id,
                             decision="same_person", reason="same face", decided_at=at))
        for k in range(2):
            s.add(Alert(id=uuid.uuid4(), dedupe_key=f"{sid}:{k}:{secrets.token_hex(3)}", subject_id=sid,
                        kind="exclusion_zone_entered", category="breach", severity="high", status="resolved",
                        evidence={}, occurred_at=at, raised_at=at, outcome="false_alarm"))
        uow.commit()
    clock.set(back)


@pytest.fixture
def person_ending(container, clock, agencies) -> Callable[..., Monitored]:
    """person_ending(days_ago) -> a person whose order ended that many days ago (negative: still live),
    holding every data class, all stored while the order ran."""

    def make(days_ago: float, agency: str = "home_office") -> Monitored:
        end = clock.now() - timedelta(days=days_ago)
        start = end - timedelta(days=400)
        person = enrol(container, agencies[agency], home=HOME, since=start, until=end, curfew=None)
        _load_everything(container, clock, person, min(end, clock.now()) - timedelta(days=101))
        return person

    return make


def held(container, subject_id: uuid.UUID) -> dict[str, int]:
    """What is still held for a subject, counted with plain SQL."""
    q = {
        "telemetry_batches": "SELECT count(*) FROM telemetry_batches b JOIN assignments a ON a.device_id = b.device_id"
                             " WHERE a.subject_id = :s",
        "trail_fixes": "SELECT coalesce(sum(n), 0) FROM trail_segments WHERE subject_id = :s",
        "probe_photos": "SELECT count(*) FROM face_photos WHERE subject_id = :s AND role = 'probe'"
                        " AND photo_sealed IS NOT NULL",
        "face_enrolments": "SELECT count(*) FROM face_enrolments WHERE subject_id = :s AND template_sealed IS NOT NULL",
        "reference_photos": "SELECT count(*) FROM face_photos WHERE subject_id = :s AND role = 'reference'"
                            " AND photo_sealed IS NOT NULL",
        "alerts": "SELECT count(*) FROM alerts WHERE subject_id = :s",
        "review_items": "SELECT count(*) FROM review_items WHERE subject_id = :s",
        "review_decisions": "SELECT count(*) FROM review_decisions d JOIN review_items i ON i.id = d.item_id"
                            " WHERE i.subject_id = :s",
        "subject": "SELECT count(*) FROM subjects WHERE id = :s",
    }
    with container.engine.connect() as conn:
        return {k: int(conn.scalar(sa.text(v).bindparams(sa.bindparam("s", type_=sa.Uuid)), {"s": subject_id}))
                for k, v in q.items()}
