"""Fuzzing the image decoder: whatever bytes are uploaded, `decode_image` answers an RGB array or
refuses with UploadRejected and one of its documented codes, and nothing else."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from custodes.biometrics.image_input import UploadRejected, decode_image

CODES = {"empty", "too_large", "not_an_image", "unsupported_format", "too_many_pixels", "truncated", "corrupt"}
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _image(fmt: str, exif: bool = False) -> bytes:
    rgb = (np.arange(32 * 24 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    buf = io.BytesIO()
    image = Image.fromarray(rgb)
    if exif:
        info = Image.Exif()
        info[0x0112] = 6  # orientation: rotated
        info[0x010E] = "<script>alert(1)</script>"
        image.save(buf, format=fmt, exif=info)
    else:
        image.save(buf, format=fmt)
    return buf.getvalue()


SEEDS = [_image("JPEG"), _image("PNG"), _image("JPEG", exif=True), _image("PNG", exif=True)]


def _decode(data: bytes) -> None:
    try:
        rgb = decode_image(data)
    except UploadRejected as exc:
        assert exc.code in CODES, exc.code
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        if len(data) < 2:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "byte"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "byte":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif len(data) > 8:
            del data[at:]
    return bytes(data)


@FUZZ
@given(data=mutated())
def test_mutated_photos(data):
    _decode(data)


@FUZZ
@given(magic=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP", b""]),
       rest=st.binary(max_size=3000))
def test_any_bytes_behind_any_magic(magic, rest):
    _decode(magic + rest)


def test_every_seed_decodes():
    for data in SEEDS:
        assert decode_image(data).shape[:2] in ((24, 32), (32, 24))
