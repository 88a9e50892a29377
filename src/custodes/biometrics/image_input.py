"""Safe decoding of uploaded photos: JPEG and PNG only, capped in bytes and pixels before decoding.

Every check that can be made from the header is made before a single pixel is decoded, so a
decompression bomb (a small file that claims a huge canvas) is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
# 12 MP covers any phone or watch camera at full resolution; check-in frames are 640x480.
MAX_PIXELS = 12_000_000
MAX_SIDE = 8192

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
# Formats we recognise only to refuse them by name, which is kinder than "not an image".
_OTHER_IMAGES = {
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


@dataclass(frozen=True)
class UploadRejected(Exception):
    """An upload refused before or during decoding; `message` can be shown on the device."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def sniff_format(data: bytes) -> str:
    """Return "JPEG" or "PNG" from the magic bytes, or raise UploadRejected."""
    if data.startswith(_JPEG):
        return "JPEG"
    if data.startswith(_PNG):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise UploadRejected("unsupported_format", "WEBP images are not accepted; send a JPEG or PNG photo")
    for magic, name in _OTHER_IMAGES.items():
        if data.startswith(magic):
            raise UploadRejected("unsupported_format", f"{name} images are not accepted; send a JPEG or PNG photo")
    raise UploadRejected("not_an_image", "the upload is not a JPEG or PNG photo")


def decode_image(
    data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode an uploaded photo to an RGB uint8 array (H, W, 3), upright per its EXIF orientation.

    Raises UploadRejected with one of: empty, too_large, not_an_image, unsupported_format,
    too_many_pixels, truncated, corrupt.
    """
    if not data:
        raise UploadRejected("empty", "the upload is empty")
    if len(data) > max_bytes:
        raise UploadRejected("too_large", f"the photo is larger than {max_bytes // 1024} KiB")
    fmt = sniff_format(data)
    try:
        # Restricting `formats` stops Pillow from trying its other (larger attack surface) parsers.
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except Exception as exc:  # noqa: BLE001 - any parser failure is a corrupt upload
        raise UploadRejected("corrupt", "the photo could not be read") from exc
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise UploadRejected(
            "too_many_pixels", f"the photo is {width}x{height}; at most {max_pixels // 1_000_000} megapixels"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise UploadRejected("truncated", "the photo is incomplete; take it again") from exc
        raise UploadRejected("corrupt", "the photo could not be read") from exc
    except Exception as exc:  # noqa: BLE001
        raise UploadRejected("corrupt", "the photo could not be read") from exc
    if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # Pillow fills a JPEG that stops mid-scan with grey instead of failing; the missing
        # end-of-image marker is the reliable sign of a cut-off upload.
        raise UploadRejected("truncated", "the photo is incomplete; take it again")
    image = ImageOps.exif_transpose(image)
    return np.asarray(image.convert("RGB"))


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """Encode an RGB array as JPEG (used by tests, benchmarks and the demo device)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def load_rgb(path) -> np.ndarray:
    """Read a trusted local file (evaluation data) as RGB without the upload caps."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def pad_to(rgb: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """Centre an image on a grey canvas of the given size (LFW 250x250 to a 640x480 frame)."""
    h, w = rgb.shape[:2]
    canvas = np.full((height, width, 3), 127, dtype=np.uint8)
    top, left = max(0, (height - h) // 2), max(0, (width - w) // 2)
    crop = rgb[: height - top, : width - left]
    canvas[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return canvas
