"""The face engine: detect, grade, embed, enrol and compare, behind one small interface.

Models are registered by name; which ones run, and how their scores are fused, is decided by the
calibration, so adding a stronger model is a new registry entry plus a new calibration. The engine
version (models + calibration) is recorded with every comparison.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from custodes.biometrics.calibration import Calibration
from custodes.biometrics.dlib_model import DlibModels
from custodes.biometrics.faces import DetectedFace
from custodes.biometrics.process_memory import hold_mmap_threshold
from custodes.biometrics.quality import (
    DEFAULT_POLICY,
    FaceNotAcquired,
    QualityPolicy,
    QualityReport,
    assess,
)


class FaceModel(Protocol):
    """An embedding model. `similarity` is higher for the same person and broadcasts over rows."""

    name: str
    version: str
    dim: int

    def embed(self, rgb: np.ndarray, face: DetectedFace, flip: bool = False) -> np.ndarray: ...

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...


def _load_faceres() -> FaceModel:
    from custodes.biometrics.faceres_model import FaceResModel

    return FaceResModel.load()


def _load_sface() -> FaceModel:
    from custodes.biometrics.sface_model import SFaceModel

    return SFaceModel.load()


MODEL_REGISTRY: dict[str, Callable[[], FaceModel]] = {
    DlibModels.name: DlibModels.load,
    "faceres": _load_faceres,
    "sface": _load_sface,
}


class TemplateMismatch(ValueError):
    """The template was made by other models than the engine runs: the person must re-enrol."""


@dataclass(frozen=True)
class Acquisition:
    """One photo that passed the quality gate, with its face and one embedding per model."""

    face: DetectedFace
    quality: QualityReport
    embeddings: dict[str, np.ndarray]
    for_template: bool = False
    # Kept so that `enrol` can re-embed a probe-style acquisition the way references are embedded.
    rgb: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Template:
    """Reference embeddings of one person (one row per enrolment photo, per model)."""

    model_versions: dict[str, str]
    embeddings: dict[str, np.ndarray]  # name -> (n_images, dim) float32
    # Computed once at enrolment: {"cohort": id, "mean": .., "std": ..} of the template's top-k
    # fused scores against the calibration's cohort (None when the calibration has no cohort).
    cohort_norm: dict | None = None

    @property
    def images(self) -> int:
        return len(next(iter(self.embeddings.values())))

    def to_bytes(self) -> bytes:
        """JSON (no pickle), for the caller to encrypt at rest."""
        body = {
            "format": "custodes-face-template/1",
            "model_versions": self.model_versions,
            "cohort_norm": self.cohort_norm,
            "embeddings": {
                name: {"shape": list(v.shape), "float32_b64": base64.b64encode(v.astype("<f4").tobytes()).decode()}
                for name, v in self.embeddings.items()
            },
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Template:
        body = json.loads(data)
        if body.get("format") != "custodes-face-template/1":
            raise ValueError("not a Custodes face template")
        emb = {
            name: np.frombuffer(base64.b64decode(v["float32_b64"]), dtype="<f4").reshape(v["shape"]).copy()
            for name, v in body["embeddings"].items()
        }
        return cls(model_versions=dict(body["model_versions"]), embeddings=emb, cohort_norm=body.get("cohort_norm"))


@dataclass(frozen=True)
class Comparison:
    """A 1:1 comparison result: `matched` is score >= threshold for the stated target FMR."""

    score: float
    threshold: float
    target_fmr: float
    matched: bool
    engine_version: str
    model_scores: dict[str, float] = field(default_factory=dict)
    probes: int = 1
    template_images: int = 1

    def as_dict(self) -> dict:
        return {
            "score": round(self.score, 4),
            "threshold": round(self.threshold, 4),
            "target_fmr": self.target_fmr,
            "matched": self.matched,
            "engine_version": self.engine_version,
            "model_scores": {k: round(v, 4) for k, v in self.model_scores.items()},
            "probes": self.probes,
            "template_images": self.template_images,
        }


class FaceEngine:
    def __init__(
        self, calibration: Calibration | None = None, policy: QualityPolicy = DEFAULT_POLICY, fast_detection: bool = False,
        cohort_dir=None,
    ) -> None:
        hold_mmap_threshold()  # before the models allocate: see process_memory
        self.calibration = calibration or Calibration.load()
        self.policy = policy
        # Off by default: see `detect`. Enrolment photos are always searched at full size.
        self.fast_detection = fast_detection
        self.dlib = DlibModels.load()
        self.models: dict[str, FaceModel] = {}
        for norm in self.calibration.models:
            model = MODEL_REGISTRY[norm.name]()
            if model.version != norm.version:
                raise RuntimeError(
                    f"calibration {self.calibration.id} was made for {norm.name} {norm.version}, "
                    f"but {model.version} is installed: run `custodes eval faces --calibrate`"
                )
            self.models[norm.name] = model
        self._norms = {n.name: n for n in self.calibration.models}
        from custodes.biometrics.cohort import load_cohort

        self.cohort = load_cohort(self.calibration, cohort_dir)
        self.target_fmr = target_fmr_from_env() or self.calibration.default_target_fmr
        self.calibration.threshold(self.target_fmr)  # fail at start-up, not at the first check-in

    @property
    def version(self) -> str:
        models = "+".join(f"{m.name}={m.version}" for m in self.calibration.models)
        return f"{models};calibration={self.calibration.id}"

    @property
    def model_versions(self) -> dict[str, str]:
        return {n: m.version for n, m in self.models.items()}

    # -- the steps, exported for check-ins and liveness ------------------------------------
    def detect(self, rgb: np.ndarray, fast: bool | None = None) -> list[DetectedFace]:
        """Every face found (dlib HOG + 5 landmarks), largest first.

        fast (default: the engine's `fast_detection`, off) searches frames of 600x400 and more at
        half size first and stops there if it finds a face: ~8 ms instead of ~30 ms at 640x480.
        The cost: beside a main face found that way, a second face under ~140 px is missed, so
        "only one face" is weaker. Good for liveness challenge frames; off for the matched photo."""
        return self.dlib.detect(rgb, fast=self.fast_detection if fast is None else fast)

    def chip(self, rgb: np.ndarray, face: DetectedFace, size: int = 150, padding: float = 0.25) -> np.ndarray:
        """The face aligned by its landmarks: eyes level, fixed scale, size x size RGB."""
        return self.dlib.chip(rgb, face, size, padding)

    def assess(self, rgb: np.ndarray, faces: list[DetectedFace] | None = None) -> QualityReport:
        faces = self.detect(rgb) if faces is None else faces
        chip = self.chip(rgb, faces[0]) if faces else None
        return assess(rgb.shape, faces, chip, self.policy)

    def embed(self, rgb: np.ndarray, face: DetectedFace, for_template: bool = False) -> dict[str, np.ndarray]:
        return {n: m.embed(rgb, face, flip=self._norms[n].flips(for_template)) for n, m in self.models.items()}

    def acquire(
        self, rgb: np.ndarray, faces: list[DetectedFace] | None = None, *, for_template: bool = False
    ) -> Acquisition:
        """Detect, grade and embed one photo; raises FaceNotAcquired with a device-showable reason."""
        faces = self.detect(rgb, fast=False if for_template else None) if faces is None else faces
        report = self.assess(rgb, faces)
        if not report.passed:
            raise FaceNotAcquired(report)
        return Acquisition(face=faces[0], quality=report, embeddings=self.embed(rgb, faces[0], for_template),
                           for_template=for_template, rgb=rgb)

    # -- enrolment and comparison ----------------------------------------------------------
    def enrol(self, photos: Sequence[np.ndarray | Acquisition]) -> Template:
        """A template from one or more photos; every photo must pass the quality gate."""
        if not photos:
            raise ValueError("at least one reference photo is needed")
        acquired = [self._as_reference(p) if isinstance(p, Acquisition) else self.acquire(p, for_template=True)
                    for p in photos]
        embeddings = {n: np.stack([a.embeddings[n] for a in acquired]).astype(np.float32) for n in self.models}
        return Template(model_versions=self.model_versions, embeddings=embeddings,
                        cohort_norm=self._cohort_norm(embeddings))

    def _cohort_norm(self, embeddings: dict[str, np.ndarray]) -> dict | None:
        """The template's top-k cohort statistics: the same mean-over-references fused score that
        `compare` computes, against every cohort face (a few thousand dot products)."""
        if not self.cohort:
            return None
        from custodes.biometrics.cohort import top_stats

        raw = {}
        for name, model in self.models.items():
            refs, cohort = embeddings[name], self.cohort[name]
            raw[name] = np.mean([_rows_similarity(model, cohort, r) for r in refs], axis=0)
        mean, std = top_stats(self.calibration.fuse(raw), float(self.calibration.cohort["top_fraction"]))
        return {"cohort": self.calibration.cohort["id"], "mean": mean, "std": std}

    def _as_reference(self, acq: Acquisition) -> Acquisition:
        """References may average the mirror image too (calibration `flip="template"`)."""
        differs = any(n.flips(True) != n.flips(False) for n in self.calibration.models)
        if acq.for_template or not differs:
            return acq
        if acq.rgb is None:
            raise ValueError("this acquisition has no image to re-embed as a reference: pass the photo")
        return Acquisition(acq.face, acq.quality, self.embed(acq.rgb, acq.face, True), True, acq.rgb)

    def compare(
        self, template: Template, probe: Acquisition | Sequence[Acquisition], target_fmr: float | None = None
    ) -> Comparison:
        """Score a probe (one or several frames) against a template at the calibrated threshold."""
        probes = [probe] if isinstance(probe, Acquisition) else list(probe)
        if not probes:
            raise ValueError("at least one probe is needed")
        if template.model_versions != self.model_versions:
            raise TemplateMismatch(f"template made with {template.model_versions}, engine runs {self.model_versions}")
        raw: dict[str, float] = {}
        for name, model in self.models.items():
            refs = template.embeddings[name]
            # Mean over every (probe frame, reference image) pair: averaging scores, not vectors.
            raw[name] = float(np.mean([model.similarity(refs, p.embeddings[name]).mean() for p in probes]))
        cal = self.calibration
        target = self.target_fmr if target_fmr is None else target_fmr
        threshold = cal.threshold(target)
        score = float(cal.fuse(raw))
        if self.cohort:
            norm = template.cohort_norm
            if not norm or norm.get("cohort") != cal.cohort["id"]:
                norm = self._cohort_norm(template.embeddings)  # made before this cohort: same statistics
            score = (score - norm["mean"]) / norm["std"]
        return Comparison(
            score=score, threshold=threshold, target_fmr=target, matched=score >= threshold,
            engine_version=self.version, model_scores=raw, probes=len(probes), template_images=template.images,
        )

    def verify(self, template: Template, rgb: np.ndarray, target_fmr: float | None = None) -> Comparison:
        return self.compare(template, self.acquire(rgb), target_fmr)


COHORT_CHUNK = 256


def _rows_similarity(model: FaceModel, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`model.similarity(rows, vector)` a few hundred rows at a time: the same numbers (each row
    is reduced on its own), without temporaries the size of the whole cohort (~6 MB each for
    FaceRes's 1,549 x 1,024), which raised the enrolling process's peak memory by ~15 MB."""
    return np.concatenate([model.similarity(rows[i:i + COHORT_CHUNK], vector)
                           for i in range(0, len(rows), COHORT_CHUNK)])


_engine: FaceEngine | None = None
_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The process-wide engine, loaded on first use (model load takes about half a second)."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = FaceEngine()
    return _engine


def target_fmr_from_env() -> float | None:
    """Operators may lower the target FMR (e.g. CUSTODES_FACE_TARGET_FMR=1e-4)."""
    value = os.environ.get("CUSTODES_FACE_TARGET_FMR")
    return float(value) if value else None
