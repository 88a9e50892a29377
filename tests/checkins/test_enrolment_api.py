"""Face enrolment through the API: real faces, each bad upload its own clear error, audited reads,
re-enrolment and deletion, and the sealed storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import uuid

import cv2
import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from checkins.support import GATES, dark
from custodes.biometrics.image_input import decode_image, encode_jpeg, load_rgb

PROBLEM = "application/problem+json"


def _post(client, case, photos: list[bytes], headers=None):
    return client.post(f"/v1/subjects/{case.subject_id}/face/enrolments",
                       files=[("photos", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos)],
                       headers=headers or case.caseworker)


def _blurred(jpeg: bytes) -> bytes:
    return encode_jpeg(cv2.GaussianBlur(decode_image(jpeg), (0, 0), 3))


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, format="PNG")  # tiny file, huge canvas: a decompression bomb
    return out.getvalue()


@pytest.fixture(scope="module")
def two_people(lfw_images) -> bytes:
    canvas = np.full((480, 640, 3), 127, np.uint8)
    canvas[115:365, 60:310] = load_rgb(lfw_images / "Bill_Gates" / GATES["probe"])
    canvas[115:365, 330:580] = load_rgb(lfw_images / "Bill_Simon" / "Bill_Simon_0004.jpg")
    return encode_jpeg(canvas)


def test_each_bad_upload_gets_its_own_clear_error_and_nothing_is_stored(client, case, face_jpeg, two_people, rows):
    good = face_jpeg(GATES["probe"])
    cases = {
        "face-no-face": (encode_jpeg(np.full((480, 640, 3), 120, np.uint8)), 422),
        "face-multiple-faces": (two_people, 422),
        "face-too-dark": (dark(good), 422),
        "face-blurred": (_blurred(good), 422),
        "upload-truncated": (good[: len(good) // 2], 422),
        "upload-not-an-image": (b"just some text, not a photo", 422),
        "upload-too-large": (good + b"\0" * (4 * 1024 * 1024), 413),
        "upload-too-many-pixels": (_png(5000, 5000), 422),
        "upload-unsupported-format": (b"GIF89a" + b"\0" * 32, 422),
    }
    details = set()
    for kind, (photo, status) in cases.items():
        r = _post(client, case, [good, photo, good])
        assert r.status_code == status, (kind, r.text)
        body = r.json()
        assert r.headers["content-type"].startswith(PROBLEM)
        assert body["type"].endswith("/" + kind), (kind, body)
        assert body["errors"][0]["field"] == "photos[1]" and body["errors"][0]["message"]
        details.add(body["detail"])
    assert len(details) == len(cases)  # a distinct message for each
    assert rows("face_enrolments") == 0 and rows("face_photos") == 0


def test_enrolment_is_sealed_audited_and_readable_only_with_a_purpose(client, container, case, enrol, officer):
    made = enrol()
    with container.engine.connect() as conn:
        blobs = conn.execute(sa.text("SELECT photo_sealed, key_id FROM face_photos")).all()
        template = conn.execute(sa.text("SELECT template_sealed FROM face_enrolments")).scalar_one()
    assert len(blobs) == 3 and all(kid == made["key_id"] for _, kid in blobs)
    assert all(b"\xff\xd8\xff" not in bytes(blob)[:64] for blob, _ in blobs)  # no JPEG in the clear
    assert b"float32" not in bytes(template) and b"embeddings" not in bytes(template)
    # Reading a reference photo needs a purpose, and is audited with it.
    with container.engine.connect() as conn:
        photo_id = conn.execute(sa.text("SELECT id FROM face_photos")).scalars().first()
    photo_id = uuid.UUID(str(photo_id))  # SQLite returns the raw hex form
    url = f"/v1/subjects/{case.subject_id}/face/photos/{photo_id}"
    assert client.get(url, headers=case.caseworker).status_code == 422  # no purpose given
    r = client.get(url, params={"purpose": "checking the enrolment photo"}, headers=case.caseworker)
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
    with container.engine.connect() as conn:
        read = conn.execute(sa.text("SELECT purpose FROM audit_entries WHERE action = 'read' "
                                    "AND target_type = 'face_photo'")).scalars().all()
    assert read == ["checking the enrolment photo"]
    # Probation officers and auditors never see faces; another agency does not see the case at all.
    assert client.get(url, params={"purpose": "x" * 5}, headers=officer("probation")).status_code == 403
    assert client.get(url, params={"purpose": "x" * 5}, headers=officer("auditor")).status_code == 403
    assert client.get(url, params={"purpose": "x" * 5}, headers=officer("caseworker", "other_office")).status_code == 404
    assert _post(client, case, [b"x"], headers=officer("caseworker", "other_office")).status_code == 404


def test_re_enrolment_supersedes_and_deletion_wipes_but_keeps_the_record(client, container, case, enrol, rows):
    first = enrol()
    second = enrol([GATES["probe"], *GATES["enrol"][:2]])
    listed = client.get(f"/v1/subjects/{case.subject_id}/face/enrolments", headers=case.caseworker).json()
    assert {e["id"]: e["status"] for e in listed} == {first["id"]: "superseded", second["id"]: "active"}
    url = f"/v1/subjects/{case.subject_id}/face/enrolments/{second['id']}"
    assert client.delete(url, headers=case.caseworker).status_code == 422  # a reason is required
    r = client.delete(url, params={"reason": "subject asked for erasure"}, headers=case.caseworker)
    assert r.status_code == 200 and r.json()["status"] == "deleted" and r.json()["key_id"] is None
    with container.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM face_photos WHERE photo_sealed IS NOT NULL "
                                    "AND enrolment_id IS NOT NULL")).scalar_one()
        audit = conn.execute(sa.text("SELECT action, count(*) FROM audit_entries WHERE target_type = "
                                     "'face_enrolment' GROUP BY action")).all()
    assert left == 3  # only the superseded enrolment's three photos remain sealed
    assert dict(audit) == {"create": 2, "update": 2}  # superseded once, deleted once
    assert client.delete(url, params={"reason": "again"}, headers=case.caseworker).status_code == 409


def test_fewer_than_three_reference_photos_are_refused_before_any_face_work(client, case, face_jpeg, rows):
    good = [face_jpeg(n) for n in GATES["enrol"]]
    for photos in ([], good[:1], good[:2]):
        r = _post(client, case, photos)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["errors"][0]["field"] == "photos", body
        if photos:  # no file at all is the framework's "field required"; one or two get the reason
            assert "at least 3 reference photos" in body["errors"][0]["message"]
    assert _post(client, case, good * 2).status_code == 422  # six: at most five
    assert rows("face_enrolments") == 0 and rows("face_photos") == 0
    r = _post(client, case, good)
    assert r.status_code == 201 and r.json()["image_count"] == 3
