"""Fixtures and helpers for check-in and review API tests: a monitored case with a smartwatch, real faces, signed requests.

Faces are real photos from the shared data folder (required, never skipped): LFW people with a
frontal photo and a turned one (for the head-turn challenge), and NUAA printed-photo attacks.
"""

from __future__ import annotations

import io
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from custodes.actor import Actor
from custodes.biometrics.image_input import encode_jpeg, load_rgb, pad_to
from custodes.biometrics.liveness import ChallengeKind
from custodes.biometrics.liveness import draw_challenge as real_draw
from custodes.checkins import service as checkin_service
from custodes.checkins.models import CheckInPrompt
from custodes.config import data_root
from custodes.devices.signing import signed_headers

# Frontal photos (for enrolment and probes) and the same person's head turned to their right.
# Enrolment needs three photos; LFW View 1 holds four of Bill Gates, one of them turned, so the
# third reference is a mirror image ("mirror:" prefix) of one of the two frontal ones.
GATES = {"enrol": ["Bill_Gates_0011.jpg", "Bill_Gates_0015.jpg", "mirror:Bill_Gates_0011.jpg"],
         "probe": "Bill_Gates_0003.jpg",
         "turned_right": "Bill_Gates_0004.jpg"}
SIMON = {"probe": "Bill_Simon_0004.jpg", "turned_right": "Bill_Simon_0013.jpg"}
POLICY = {"kind": "check_in_policy", "prompts_per_day": 5, "waking_start": "08:00", "waking_end": "21:00",
          "quiet_hours": [{"start": "12:30", "end": "13:30"}], "response_minutes": 15, "min_gap_minutes": 60}


@pytest.fixture(scope="session")
def lfw_images() -> Path:
    folder = data_root() / "faces" / "lfw-view1" / "images"
    assert folder.is_dir(), f"LFW View 1 is required for the check-in tests: {folder} is missing"
    return folder


@pytest.fixture(scope="session")
def nuaa() -> Path:
    folder = data_root() / "pad" / "nuaa-dev"
    assert (folder / "ImposterRaw").is_dir(), f"NUAA is required for the check-in tests: {folder} is missing"
    return folder


@pytest.fixture(scope="session")
def face_jpeg(lfw_images: Path) -> Callable[..., bytes]:
    """face_jpeg(file, mirror=False) -> a real LFW photo on a 640x480 frame, as JPEG bytes
    (a "mirror:" prefix on the file name mirrors it too)."""

    def make(name: str, mirror: bool = False) -> bytes:
        if name.startswith("mirror:"):
            name, mirror = name.removeprefix("mirror:"), not mirror
        rgb = pad_to(load_rgb(lfw_images / name.rsplit("_", 1)[0] / name))
        return encode_jpeg(rgb[:, ::-1].copy() if mirror else rgb)

    return make


def challenge_frames(face_jpeg, person: dict, kind: str) -> tuple[bytes, list[bytes]]:
    """The photo and challenge frames of a real person doing a turn (mirroring a right turn makes
    a left turn of the same real face)."""
    mirror = kind == ChallengeKind.TURN_LEFT
    return face_jpeg(person["probe"], mirror), [face_jpeg(person["turned_right"], mirror)]


@pytest.fixture(autouse=True)
def _checkin_test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # The data holds real head turns but no real nods, so tests draw among the turns (still at random).
    monkeypatch.setattr(checkin_service, "draw_challenge",
                        lambda: real_draw((ChallengeKind.TURN_LEFT, ChallengeKind.TURN_RIGHT)))


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """Encode files as multipart/form-data ourselves: the device signs these exact bytes."""
    boundary = secrets.token_hex(12)
    body = b""
    for i, (name, data) in enumerate(files):
        kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f{i}.jpg\"\r\n"
                 f"Content-Type: {kind}\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Case:
    subject_id: str
    order_id: str
    device_id: str
    secret: str
    caseworker: dict[str, str]


@pytest.fixture
def case(client, officer, new_subject, new_order, agencies) -> Case:
    """A subject under an active order with a check-in policy, wearing a signed smartwatch; the
    case is shared with the monitoring centre, whose reviewers work the queue."""
    cw = officer("caseworker")
    subject = new_subject(cw)
    order = new_order(cw, subject["id"])
    r = client.post(f"/v1/orders/{order['id']}/conditions", json={"spec": POLICY}, headers=cw)
    assert r.status_code == 201, r.text
    r = client.post("/v1/devices", json={"kind": "smartwatch", "serial": f"W-{secrets.token_hex(3)}",
                                         "barcode": f"{random.randrange(10**7, 10**8)}"}, headers=cw)
    assert r.status_code == 201, r.text
    device = r.json()
    r = client.post(f"/v1/devices/{device['id']}/assignments",
                    json={"subject_id": subject["id"], "starts_at": "2027-01-01T00:00:00Z"}, headers=cw)
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/subjects/{subject['id']}/shares", json={"agency_id": str(agencies["monitoring"])},
                    headers=cw)
    assert r.status_code == 201, r.text
    return Case(subject["id"], order["id"], device["id"], device["secret"], cw)


@pytest.fixture
def device(client, case: Case, clock):
    """device(method, path_suffix, files=None) -> response of a request signed by the case's watch."""

    def call(method: str, suffix: str, files: list[tuple[str, bytes]] | None = None):
        path = f"/v1/devices/{case.device_id}/checkins{suffix}"
        body, ctype = multipart(files) if files else (b"", None)
        headers = signed_headers(case.device_id, case.secret, method, path, body, clock.now())
        if ctype:
            headers["Content-Type"] = ctype
        return client.request(method, path, content=body or None, headers=headers)

    return call


@pytest.fixture
def enrol(client, case: Case, face_jpeg):
    def run(names: list[str] = GATES["enrol"]):
        r = client.post(f"/v1/subjects/{case.subject_id}/face/enrolments",
                        files=[("photos", (n, face_jpeg(n), "image/jpeg")) for n in names], headers=case.caseworker)
        assert r.status_code == 201, r.text
        return r.json()

    return run


@pytest.fixture
def open_prompt(container, clock, device, case):
    """Move the clock into the subject's next drawn prompt and fetch it as the device."""

    def run() -> dict:
        for _ in range(3):  # a day's prompts may all lie behind the clock: then try the next day
            assert device("GET", "/pending").status_code == 200  # draws the day
            with container.uow(Actor.system("test")) as uow:
                nxt = uow.session.scalars(select(CheckInPrompt).where(
                    CheckInPrompt.subject_id == uuid.UUID(case.subject_id), CheckInPrompt.status == "pending",
                    CheckInPrompt.closes_at > clock.now() + timedelta(minutes=2))
                    .order_by(CheckInPrompt.opens_at)).first()
            if nxt is not None:
                break
            clock.set(clock.now().replace(hour=7, minute=0) + timedelta(days=1))
        assert nxt is not None, "no prompt drawn in three days"
        clock.set(max(nxt.opens_at, clock.now()) + timedelta(minutes=1))
        r = device("GET", "/pending")
        assert r.status_code == 200, r.text
        assert r.json()["prompt"] is not None and r.json()["prompt"]["prompt_id"] == str(nxt.id)
        return r.json()["prompt"]

    return run


def dark(jpeg: bytes) -> bytes:
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(np.float32)
    return encode_jpeg((rgb * 0.08).astype(np.uint8))
