"""Per-image embeddings of an evaluation set, cached on disk so reruns take seconds.

Evaluation mode differs from a check-in on purpose: LFW photos often show bystanders, so the face
nearest the centre is used, and if HOG finds none, a fixed central box (LFW photos are centred)
is used and the image is counted as a detector failure to acquire. The quality gate is still run
and its verdict recorded, so the gate's failure-to-acquire rate is reported separately.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custodes.biometrics.faces import DetectedFace, FaceBox

CACHE_VERSION = "2"  # 2: SFace on YuNet landmarks, YuNet box and points


def cache_root() -> Path:
    home = Path(os.environ.get("CUSTODES_HOME", "var"))
    return home / "cache" / "faces"


@dataclass
class ImageRecord:
    """Everything evaluation needs from one image."""

    # dlib, dlib_flip, faceres, faceres_flip, sface, sface_flip; yunet (15 floats, or empty)
    vectors: dict[str, np.ndarray]
    detected: bool
    faces: int
    gate_reason: str | None
    figures: dict[str, float]


class EmbeddingCache:
    def __init__(self, model_versions: dict[str, str], root: Path | None = None) -> None:
        key = hashlib.sha256(json.dumps([CACHE_VERSION, model_versions], sort_keys=True).encode()).hexdigest()[:16]
        self.folder = (root or cache_root()) / key
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "models.json").write_text(json.dumps(model_versions, indent=2))

    def _path(self, image: Path) -> Path:
        digest = hashlib.sha256(str(image.resolve()).encode()).hexdigest()[:24]
        return self.folder / digest[:2] / f"{digest}.npz"

    def get(self, image: Path) -> ImageRecord | None:
        path = self._path(image)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            vectors = {k: z[k] for k in z.files if k != "meta"}
        return ImageRecord(vectors, meta["detected"], meta["faces"], meta["gate_reason"], meta["figures"])

    def put(self, image: Path, record: ImageRecord) -> None:
        path = self._path(image)
        path.parent.mkdir(exist_ok=True)
        meta = json.dumps({"detected": record.detected, "faces": record.faces,
                           "gate_reason": record.gate_reason, "figures": record.figures})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, meta=np.array(meta), **record.vectors)
        tmp.replace(path)


def _central_face(rgb: np.ndarray, faces: list[DetectedFace], predictor) -> tuple[DetectedFace, bool]:
    h, w = rgb.shape[:2]
    if faces:
        return min(faces, key=lambda f: (f.box.centre[0] - w / 2) ** 2 + (f.box.centre[1] - h / 2) ** 2), True
    # LFW is centred and about 110 px per face at 250x250; scale the same box to other sizes.
    side = 0.44 * min(h, w)
    box = FaceBox(int(w / 2 - side / 2), int(h / 2 - side / 2 + 0.02 * h), int(w / 2 + side / 2), int(h / 2 + side / 2 + 0.02 * h))
    return predictor(rgb, box), False


def refresh_quality(record: ImageRecord, rgb: np.ndarray, dlib_models) -> ImageRecord:
    from custodes.biometrics.quality import assess

    faces = dlib_models.detect(rgb)
    report = assess(rgb.shape, faces, dlib_models.chip(rgb, faces[0]) if faces else None)
    figures = {k: float(v) for k, v in report.figures.items()}
    return ImageRecord(record.vectors, record.detected, len(faces), report.reason, figures)


def _central_yunet(rgb: np.ndarray, yunet) -> np.ndarray:
    rows = yunet.detect(rgb)
    if not len(rows):
        return np.zeros(0, np.float32)
    h, w = rgb.shape[:2]
    centres = rows[:, :2] + rows[:, 2:4] / 2
    return rows[int(np.argmin(np.sum((centres - (w / 2, h / 2)) ** 2, axis=1)))]


def sface_vectors(rgb: np.ndarray, face: DetectedFace, yunet, sface) -> dict[str, np.ndarray]:
    """SFace plain and flipped, aligned by YuNet's 5 points for the central face (if YuNet finds
    none, by the dlib eye centres), and YuNet's row (empty when it found no face)."""
    from custodes.biometrics.sface_model import align, align_by_eyes

    row = _central_yunet(rgb, yunet)
    chip = align(rgb, row[4:14]) if len(row) else align_by_eyes(rgb, face.landmarks.eye_left, face.landmarks.eye_right)
    both = sface.embed_aligned(np.stack([chip, np.ascontiguousarray(chip[:, ::-1])]))
    return {"sface": both[0], "sface_flip": both[1], "yunet": row}


def compute_record(rgb: np.ndarray, dlib_models, faceres=None, yunet=None, sface=None,
                   skip_dlib: bool = False) -> ImageRecord:
    """Detect, grade and embed one evaluation image with dlib (and FaceRes, SFace), plain and flipped.

    skip_dlib leaves out dlib's ResNet (84 ms a face, the costliest step) when the engine does
    not use it; HOG and dlib's landmarks still run (the gate and FaceRes's box need them)."""
    from custodes.biometrics.quality import assess

    faces = dlib_models.detect(rgb)
    report = assess(rgb.shape, faces, dlib_models.chip(rgb, faces[0]) if faces else None)
    face, detected = _central_face(rgb, faces, dlib_models.landmarks_for_box)
    chip = dlib_models.chip(rgb, face)
    vectors = {} if skip_dlib else {
        "dlib": dlib_models.embed_chip(chip),
        "dlib_flip": dlib_models.embed_chip(chip[:, ::-1]),
    }
    if faceres is not None:
        crop = faceres.crop(rgb, face)
        vectors["faceres"] = faceres.embed_crops(crop[None])[0]
        vectors["faceres_flip"] = faceres.embed_crops(np.ascontiguousarray(crop[None, :, ::-1]))[0]
    if sface is not None:
        vectors.update(sface_vectors(rgb, face, yunet, sface))
    figures = {k: float(v) for k, v in report.figures.items()}
    return ImageRecord(vectors, detected, len(faces), report.reason, figures)
