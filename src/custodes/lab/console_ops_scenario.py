"""Operational data on top of `console_scenario` for the console's browser tests and screenshots:
face-review items with real LFW photos, alerts of each kind, devices in every state, and orders whose
quarterly review is due or overdue.

The review items' decision records (score, threshold, quality, liveness) are set by this scenario to
show each kind of case; they are not measured by the face engine.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.models import UserCreate
from custodes.alerts import service as alerts
from custodes.biometrics.image_input import encode_jpeg, load_rgb, pad_to
from custodes.bootstrap import Container
from custodes.checkins import face_store
from custodes.checkins.upload import CleanPhoto
from custodes.checkins.service import review_request
from custodes.checkins.models import CheckInAttempt, CheckInPrompt, FaceEnrolment
from custodes.config import data_root
from custodes.devices import service as devices
from custodes.devices.models import AssignmentCreate, DeviceCreate, DeviceUpdate
from custodes.lab.console_scenario import PASSWORD, Scenario
from custodes.orders.models import Order
from custodes.review import intake

SECOND_REVIEWER = "robin"
STORE_BARCODE = "5012345777001"


@dataclass(frozen=True)
class OpsScenario:
    review_item_ids: list[uuid.UUID]
    adverse_item_id: uuid.UUID
    return_barcode: str
    return_device_id: uuid.UUID
    overdue_order_id: uuid.UUID


def _jpeg(name: str) -> bytes:
    folder = data_root() / "faces" / "lfw-view1" / "images"
    return encode_jpeg(pad_to(load_rgb(folder / name.rsplit("_", 1)[0] / name)))


def _caseworker(agency_id: uuid.UUID) -> Actor:
    return Actor(kind="user", id=str(uuid.uuid4()), name="scenario", agency_id=agency_id, role=Role.CASEWORKER)


CASES = [  # (reference photo, probe photo, reason, score, threshold, liveness passed, liveness reasons)
    ("Bill_Gates_0011.jpg", "Bill_Simon_0004.jpg", "no_match", 0.214, 0.512, True, []),
    ("Bill_Gates_0015.jpg", "Bill_Gates_0003.jpg", "near_threshold", 0.497, 0.512, True, []),
    ("Bill_Gates_0011.jpg", "Bill_Gates_0004.jpg", "liveness_failed", 0.688, 0.512, False, ["no_movement"]),
]


def review_item(uow, keys, scenario: Scenario, n: int, case) -> uuid.UUID:
    ref, probe, reason, score, threshold, live, why = case
    now = uow.clock.now() - timedelta(hours=3 - n)
    subject_id = scenario.subject_id
    order_id = uow.session.scalars(select(Order.id).where(Order.subject_id == subject_id)).first()
    enrolment = FaceEnrolment(id=uuid.uuid4(), subject_id=subject_id, status="superseded" if n else "active",
                              engine_version="scenario", image_count=1, quality=[], created_at=now - timedelta(days=20))
    uow.session.add(enrolment)
    uow.session.flush()
    face_store.add_photo(uow=uow, keys=keys, subject_id=subject_id, role="reference", image=CleanPhoto(_jpeg(ref)),
                         enrolment_id=enrolment.id)
    quality = {"passed": True, "reason": None, "message": None, "faces": 1,
               "figures": {"brightness": 118.0, "inter_eye_px": 61.0, "sharpness": 0.42}}
    liveness = {"passed": live, "reasons": why, "movement": 0.004 if not live else 0.09}
    record = {"outcome": "not_verified", "reason": reason, "score": score, "threshold": threshold, "target_fmr": 0.001,
              "model_version": "scenario (figures set, not measured)", "quality": quality, "liveness": liveness}
    prompt = CheckInPrompt(id=uuid.uuid4(), subject_id=subject_id, order_id=order_id, day=now.date(),
                           opens_at=now - timedelta(minutes=10), closes_at=now + timedelta(minutes=5),
                           status="decided", challenge={"kind": "turn_left", "prompt": "Turn your head to your left",
                                                        "nonce": uuid.uuid4().hex},
                           outcome="not_verified", reason=reason, decision=record, decided_at=now,
                           device_id=scenario.device_id, attempts=1)
    uow.session.add(prompt)
    uow.session.flush()
    attempt = CheckInAttempt(id=uuid.uuid4(), prompt_id=prompt.id, subject_id=subject_id,
                             device_id=scenario.device_id, submitted_at=now, outcome="not_verified", reason=reason,
                             score=score, threshold=threshold, target_fmr=0.001, model_version="scenario",
                             quality=quality, liveness=liveness, enrolment_id=enrolment.id)
    uow.session.add(attempt)
    uow.session.flush()
    photo = face_store.add_photo(uow=uow, keys=keys, subject_id=subject_id, role="probe",
                                 image=CleanPhoto(_jpeg(probe)), attempt_id=attempt.id)
    uow.session.flush()
    attempt.probe_photo_id = photo.id
    return intake.open_item(uow=uow, request=review_request(prompt, attempt, reason)).id


def seed(container: Container, scenario: Scenario) -> OpsScenario:
    north = scenario.agencies["north"]
    keys = face_store.face_keys(container)
    with container.uow(Actor.system("scenario")) as uow:
        access.create_user(uow=uow, data=UserCreate(username=SECOND_REVIEWER, password=PASSWORD, role=Role.REVIEWER),
                           agency_id=north)
        items = [review_item(uow, keys, scenario, n, case) for n, case in enumerate(CASES)]
        now = uow.clock.now()
        for key, kind, cat, sev, hours in (("ops:tamper", "tamper", "integrity", "critical", 5),
                                           ("ops:battery", "battery_low", "device_fault", "medium", 30),
                                           ("ops:silent", "device_silent", "device_fault", "high", 2)):
            alerts.raise_alert(uow=uow, subject_id=scenario.quiet_subject_id if "battery" in key else scenario.subject_id,
                               kind=kind, category=cat, severity=sev, occurred_at=now - timedelta(hours=hours),
                               dedupe_key=key, evidence={"last_fix_at": (now - timedelta(hours=hours)).isoformat(),
                                                         "source_batch": f"{scenario.device_id}/1"})
        # The quiet subject's order started long ago: its quarterly review is overdue.
        order = uow.session.scalars(select(Order).where(Order.subject_id == scenario.quiet_subject_id)).first()
        order.next_review_due = now - timedelta(days=6)
        uow.commit()
    with container.uow(_caseworker(north)) as uow:
        store = devices.register(uow=uow, data=DeviceCreate(kind="wristband", serial="BAND-3001",
                                                            barcode=STORE_BARCODE), device_key=container.device_key)[0]
        lost = devices.register(uow=uow, data=DeviceCreate(kind="ankle_tag", serial="TAG-1009",
                                                           barcode="5012345777009"), device_key=container.device_key)[0]
        uow.session.flush()
        devices.assign(uow=uow, device_id=store.id, data=AssignmentCreate(
            subject_id=scenario.quiet_subject_id, starts_at=uow.clock.now() - timedelta(days=10)))
        devices.update(uow=uow, device_id=lost.id, data=DeviceUpdate(status="lost", reason="reported lost in transit"))
        uow.commit()
    return OpsScenario(review_item_ids=items, adverse_item_id=items[0], return_barcode=STORE_BARCODE,
                       return_device_id=store.id, overdue_order_id=order.id)
