"""Photos are stored re-encoded: EXIF (GPS included), comments and APPn segments of the upload are
gone, and what is served back is the re-encoded image, never the uploaded bytes."""

import io
import struct
import uuid

import numpy as np
import sqlalchemy as sa
from checkins.support import GATES, SIMON, challenge_frames
from PIL import Image

SCRIPT = b"<script>alert(document.cookie)</script>"


def tainted(jpeg: bytes) -> bytes:
    """The same face with a GPS position and camera in EXIF, a script in the JPEG comment and a
    script in an APP13 segment (where Photoshop metadata lives)."""
    image = Image.open(io.BytesIO(jpeg))
    exif = Image.Exif()
    exif[0x010F] = "EvilCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95, exif=exif.tobytes(), comment=SCRIPT)
    data = buf.getvalue()
    app13 = b"\xff\xed" + struct.pack(">H", len(SCRIPT) + 2) + SCRIPT
    data = data[:2] + app13 + data[2:]
    assert SCRIPT in data and b"EvilCam" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    return data


def assert_clean(served: bytes, uploaded: bytes) -> None:
    assert served != uploaded
    assert SCRIPT not in served and b"<script" not in served.lower()
    assert b"Exif" not in served and b"EvilCam" not in served
    image = Image.open(io.BytesIO(served))
    assert image.format == "JPEG" and "comment" not in image.info and "exif" not in image.info
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    markers = _markers(served)
    assert not [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE], [hex(m) for m in markers]
    # The face itself is kept: same size, pixels close to the upload's.
    original = np.asarray(Image.open(io.BytesIO(uploaded)).convert("RGB"), dtype=np.float32)
    kept = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert kept.shape == original.shape and np.abs(kept - original).mean() < 4


def _markers(jpeg: bytes) -> list[int]:
    out, i = [], 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        out.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        i += 2 + struct.unpack(">H", jpeg[i + 2:i + 4])[0]
    return out


def _photos(container, role):
    with container.engine.connect() as conn:
        return [str(uuid.UUID(str(r))) for r in conn.scalars(
            sa.text("SELECT id FROM face_photos WHERE role = :r ORDER BY created_at, id"), {"r": role})]


def test_reference_photos_are_stored_and_served_re_encoded(client, container, case, face_jpeg):
    uploads = [tainted(face_jpeg(n)) for n in GATES["enrol"]]
    r = client.post(f"/v1/subjects/{case.subject_id}/face/enrolments",
                    files=[("photos", (f"p{i}.jpg", d, "image/jpeg")) for i, d in enumerate(uploads)],
                    headers=case.caseworker)
    assert r.status_code == 201, r.text
    served = []
    for photo_id in _photos(container, "reference"):
        got = client.get(f"/v1/subjects/{case.subject_id}/face/photos/{photo_id}",
                         params={"purpose": "checking the reference"}, headers=case.caseworker)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        served.append(got.content)
    assert len(served) == 3
    for got in served:  # each served photo is one of the uploaded faces, cleaned
        assert_clean(got, next(u for u in uploads if _same_face(got, u)))


def _same_face(served: bytes, uploaded: bytes) -> bool:
    a = np.asarray(Image.open(io.BytesIO(served)).convert("L"), dtype=np.float32)
    b = np.asarray(Image.open(io.BytesIO(uploaded)).convert("L"), dtype=np.float32)
    return a.shape == b.shape and np.abs(a - b).mean() < 4


def test_a_png_with_text_chunks_is_stored_as_a_clean_jpeg(client, container, case, face_jpeg):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    pngs = []
    for name in GATES["enrol"]:
        buf = io.BytesIO()
        Image.open(io.BytesIO(face_jpeg(name))).save(buf, format="PNG", pnginfo=info)
        assert SCRIPT in buf.getvalue()
        pngs.append(buf.getvalue())
    r = client.post(f"/v1/subjects/{case.subject_id}/face/enrolments",
                    files=[("photos", (f"p{i}.png", p, "image/png")) for i, p in enumerate(pngs)], headers=case.caseworker)
    assert r.status_code == 201, r.text
    stored = _photos(container, "reference")
    assert len(stored) == 3
    for photo_id in stored:
        got = client.get(f"/v1/subjects/{case.subject_id}/face/photos/{photo_id}",
                         params={"purpose": "checking the reference"}, headers=case.caseworker)
        assert got.headers["content-type"] == "image/jpeg" and SCRIPT not in got.content
        assert Image.open(io.BytesIO(got.content)).format == "JPEG"


def test_a_check_in_probe_is_stored_re_encoded(client, container, case, enrol, open_prompt, device, face_jpeg,
                                              officer):
    enrol()
    prompt = open_prompt()
    photo, frames = challenge_frames(face_jpeg, SIMON, prompt["challenge"]["kind"])
    upload = tainted(photo)
    r = device("POST", f"/{prompt['prompt_id']}", [("photo", upload)] + [("frames", f) for f in frames])
    assert r.status_code == 200, r.text
    (probe_id,) = _photos(container, "probe")
    got = client.get(f"/v1/subjects/{case.subject_id}/face/photos/{probe_id}",
                     params={"purpose": "checking the probe"}, headers=officer("caseworker"))
    assert got.status_code == 200
    assert_clean(got.content, upload)
