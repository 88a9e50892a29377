"""Uploads are refused before decoding unless they are modest JPEG or PNG photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from custodes.biometrics import UploadRejected, decode_image
from custodes.biometrics.image_input import MAX_UPLOAD_BYTES, encode_jpeg


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _code(data: bytes, **kw) -> str:
    with pytest.raises(UploadRejected) as info:
        decode_image(data, **kw)
    assert info.value.message  # something the device can show
    return info.value.code


def test_real_jpeg_and_png_decode_to_rgb(lfw_frame):
    frame = lfw_frame("Aaron_Peirsol/Aaron_Peirsol_0001.jpg")
    from_jpeg = decode_image(encode_jpeg(frame))
    from_png = decode_image(_png(frame))
    assert from_jpeg.shape == from_png.shape == (480, 640, 3)
    assert from_png.dtype == np.uint8 and np.array_equal(from_png, frame)


def test_empty_and_non_image_uploads_are_refused():
    assert _code(b"") == "empty"
    assert _code(b"%PDF-1.7\n" + b"x" * 100) == "not_an_image"
    assert _code(b"<html><body>hello</body></html>") == "not_an_image"


def test_other_image_formats_are_refused_by_name():
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="GIF")
    with pytest.raises(UploadRejected) as info:
        decode_image(buf.getvalue())
    assert info.value.code == "unsupported_format" and "GIF" in info.value.message


def test_oversized_upload_is_refused_before_parsing(lfw_frame):
    big = encode_jpeg(lfw_frame("Aaron_Peirsol/Aaron_Peirsol_0001.jpg"))
    assert _code(big, max_bytes=len(big) - 1) == "too_large"
    assert _code(b"\xff\xd8\xff" + b"\x00" * (MAX_UPLOAD_BYTES + 1)) == "too_large"


def test_decompression_bomb_is_refused_from_the_header():
    # 6000 x 6000 black pixels compress to a few tens of KiB but would need 108 MB decoded.
    bomb = _png(np.zeros((6000, 6000, 3), np.uint8))
    assert len(bomb) < MAX_UPLOAD_BYTES
    assert _code(bomb) == "too_many_pixels"


def test_truncated_jpeg_and_png_are_refused(lfw_frame):
    frame = lfw_frame("Aaron_Peirsol/Aaron_Peirsol_0001.jpg")
    jpeg, png = encode_jpeg(frame), _png(frame)
    assert _code(jpeg[: len(jpeg) // 2]) == "truncated"
    assert _code(png[: len(png) // 2]) == "truncated"


def test_garbage_after_a_valid_magic_is_corrupt():
    assert _code(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) in {"corrupt", "truncated"}
