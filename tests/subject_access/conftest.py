"""Cases for the monitored person's tests: a subject with an order, a wristband, and their own sign-in."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest

from custodes.actor import Actor
from custodes.alerts import service as alerts
from custodes.checkins.service import review_request
from custodes.checkins.models import CheckInAttempt, CheckInPrompt, FaceEnrolment, FacePhoto
from custodes.orders.models import Order
from custodes.review import intake
from custodes.review.models import ReviewDecision
from custodes.telemetry import trail
from custodes.telemetry.models import MonitorState, TelemetryBatch
from custodes.telemetry.schemas import FixColumns

POLICY = {"kind": "check_in_policy", "prompts_per_day": 3, "waking_start": "08:00", "waking_end": "21:00",
          "response_minutes": 15, "min_gap_minutes": 60}


@pytest.fixture
def case(client, officer, new_subject, new_order) -> Callable[..., dict]:
    """case(cw, **subject_fields) -> a subject with an active order (check-in policy, home zone), an
    issued wristband, and `headers` signed in as the person themselves."""

    def make(cw: dict[str, str], **fields) -> dict:
        subject = new_subject(cw, **fields)
        order = new_order(cw, subject["id"])
        for spec in (POLICY, {"kind": "zone", "name": "home", "zone_type": "inclusion",
                              "circle": {"lat": 51.5, "lon": -0.12, "radius_m": 100}}):
            r = client.post(f"/v1/orders/{order['id']}/conditions", json={"spec": spec}, headers=cw)
            assert r.status_code == 201, r.text
        tag = secrets.token_hex(3).upper()
        device = client.post("/v1/devices", json={"kind": "wristband", "serial": f"WB-{tag}",
                                                   "barcode": f"77{int(tag, 16):08d}"}, headers=cw)
        assert device.status_code == 201, device.text
        device = device.json()
        r = client.post(f"/v1/devices/{device['id']}/assignments",
                        json={"subject_id": subject["id"], "starts_at": "2027-01-01T00:00:00Z"}, headers=cw)
        assert r.status_code == 201, r.text
        issued = client.post(f"/v1/subjects/{subject['id']}/credentials", headers=cw)
        assert issued.status_code == 201, issued.text
        creds = issued.json()
        token = client.post("/v1/my/token", data={"username": creds["username"], "password": creds["password"]})
        assert token.status_code == 200, token.text
        return {"subject": subject, "order": order, "device": device, "credentials": creds,
                "headers": {"Authorization": f"Bearer {token.json()['access_token']}"}}

    return make


def held_data(container, clock, subject_id: str, device_id: str) -> dict[str, str]:
    """Give a subject one row of every class the API cannot make quickly (trail, raw batch, rules
    state, a check-in with its attempt, a review with a decision, alerts, face records); returns their ids."""
    sid, did = uuid.UUID(subject_id), uuid.UUID(device_id)
    now = clock.now()
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        s.add(TelemetryBatch(device_id=did, seq=1, received_at=now, channel="http", encoding="json", raw=b"{}",
                             signature="x" * 64, item_count=2, fix_count=2, statuses=[], rejected=[]))
        t0 = int((now - timedelta(hours=1)).timestamp() * 1000)
        cols = FixColumns(index=np.array([0, 1], np.int32), t_ms=np.array([t0, t0 + 60_000], np.int64),
                          lat=np.array([51.5, 51.5001]), lon=np.array([-0.12, -0.1201]),
                          accuracy_m=np.array([8.0, 9.0], np.float32), source=np.array([0, 0], np.uint8),
                          speed_mps=np.array([np.nan, 0.5], np.float32))
        trail.append(s, subject_id=sid, device_id=did, batch_seq=1, cols=cols)
        s.add(MonitorState(subject_id=sid, state={"subject_id": subject_id}, updated_at=now))
        order_id = s.query(Order.id).filter(Order.subject_id == sid).scalar()
        enrolment = FaceEnrolment(id=uuid.uuid4(), subject_id=sid, status="active", template_sealed=b"sealed",
                                  key_id="k1", engine_version="test", image_count=1, quality=[], created_at=now)
        s.add(enrolment)
        s.flush()
        photo = FacePhoto(id=uuid.uuid4(), subject_id=sid, role="reference", enrolment_id=enrolment.id,
                          content_type="image/jpeg", size_bytes=6, photo_sealed=b"sealed", key_id="k1", created_at=now)
        prompt = CheckInPrompt(id=uuid.uuid4(), subject_id=sid, order_id=order_id, day=now.date(),
                               opens_at=now - timedelta(hours=2), closes_at=now - timedelta(hours=2) + timedelta(minutes=15),
                               status="decided", outcome="not_verified", reason="no_match", attempts=1,
                               failures_to_acquire=0, device_id=did, decided_at=now - timedelta(hours=2))
        s.add_all([photo, prompt])
        s.flush()
        attempt = CheckInAttempt(id=uuid.uuid4(), prompt_id=prompt.id, subject_id=sid, device_id=did,
                                 submitted_at=prompt.opens_at, outcome="not_verified", reason="no_match", score=0.2,
                                 threshold=0.5, target_fmr=0.001, model_version="test", quality={},
                                 enrolment_id=enrolment.id)
        s.add(attempt)
        s.flush()
        item = intake.open_item(uow=uow, request=review_request(prompt, attempt, "no_match"))
        s.flush()
        s.add(ReviewDecision(id=uuid.uuid4(), item_id=item.id, reviewer_id=uuid.uuid4(), decision="same_person",
                             reason="same person, poor light", decided_at=now))
        alert, _ = alerts.raise_alert(uow=uow, subject_id=sid, kind="device_silent", category="device_fault",
                                      severity="medium", occurred_at=now, dedupe_key=f"test:{sid}",
                                      evidence={"device_id": device_id})
        uow.commit()
    return {"prompt": str(prompt.id), "attempt": str(attempt.id), "review_item": str(item.id),
            "alert": str(alert.id), "enrolment": str(enrolment.id), "photo": str(photo.id)}
