"""dlib's public-domain models: HOG face detector, 5-point landmarks, ResNet 128-d encoder.

The model files are loaded from the `face_recognition_models` package directory. We never import
`face_recognition` itself (its `pkg_resources` import exits the process under setuptools >= 82).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from custodes.biometrics.faces import DetectedFace, FaceBox, Landmarks

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# HOG's window is 80x80; images smaller than this get one 2x upsampling so LFW-sized faces
# (about 110 px) are found, while 640x480 check-in frames are searched at native scale (30 ms).
UPSAMPLE_BELOW_PIXELS = 400 * 400
# With fast=True, large frames are searched at half size first (4x fewer HOG windows: ~8 ms
# instead of ~30 ms at 640x480), which finds faces of 160 px and more, then at full size if none.
# Not the default: a second, smaller face (someone behind) would be missed by the half-size search.
HALF_SIZE_FROM_PIXELS = 600 * 400


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibModels:
    """The three dlib models, loaded once per process by `load()`."""

    _instance: DlibModels | None = None
    _lock = threading.Lock()

    name = "dlib-resnet"
    version = "dlib_face_recognition_resnet_model_v1+hog+5pt"
    dim = 128

    def __init__(self) -> None:
        import dlib

        folder = models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._encoder = None
        self._folder = folder
        self._dlib = dlib
        self.version = f"dlib-{dlib.__version__}/{self.version}"

    @property
    def encoder(self):
        """The ResNet encoder (~22 MB), loaded only if a calibration fuses it: detection and
        landmarks do not need it."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = self._dlib.face_recognition_model_v1(str(self._folder / ENCODER_FILE))
        return self._encoder

    @classmethod
    def load(cls) -> DlibModels:
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    def _boxes(self, rgb: np.ndarray, upsample: int | None, fast: bool) -> list[tuple[object, float]]:
        pixels = rgb.shape[0] * rgb.shape[1]
        if fast and upsample is None and pixels >= HALF_SIZE_FROM_PIXELS:
            import cv2

            half = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
            rects, scores, _ = self.detector.run(half, 0, 0.0)
            if len(rects):
                dlib = self._dlib
                return [(dlib.rectangle(r.left() * 2, r.top() * 2, r.right() * 2, r.bottom() * 2), s)
                        for r, s in zip(rects, scores, strict=True)]
            upsample = 0
        if upsample is None:
            upsample = 1 if pixels < UPSAMPLE_BELOW_PIXELS else 0
        rects, scores, _ = self.detector.run(rgb, upsample, 0.0)
        return list(zip(rects, scores, strict=True))

    def detect(self, rgb: np.ndarray, upsample: int | None = None, fast: bool = False) -> list[DetectedFace]:
        """All faces, largest first, each with its 5 landmarks (found on the full-size image).

        fast=True suits liveness challenge frames, where only the main face's pose matters."""
        faces = []
        for rect, score in self._boxes(rgb, upsample, fast):
            shape = self.predictor(rgb, rect)
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            box = FaceBox(rect.left(), rect.top(), rect.right(), rect.bottom())
            faces.append(DetectedFace(box=box, landmarks=Landmarks(points), detector_score=float(score)))
        faces.sort(key=lambda f: f.box.width * f.box.height, reverse=True)
        return faces

    def landmarks_for_box(self, rgb: np.ndarray, box: FaceBox) -> DetectedFace:
        """Landmarks inside a given box (used when evaluation falls back to a fixed box)."""
        shape = self.predictor(rgb, self._dlib.rectangle(box.left, box.top, box.right, box.bottom))
        return DetectedFace(box=box, landmarks=Landmarks(tuple((float(p.x), float(p.y)) for p in shape.parts())))

    def _shape(self, face: DetectedFace):
        dlib = self._dlib
        b = face.box
        rect = dlib.rectangle(b.left, b.top, b.right, b.bottom)
        parts = [dlib.point(round(x), round(y)) for x, y in face.landmarks.points]
        return dlib.full_object_detection(rect, parts)

    def chip(self, rgb: np.ndarray, face: DetectedFace, size: int = CHIP_SIZE, padding: float = CHIP_PADDING):
        """The face aligned by its landmarks (eyes level, fixed scale), size x size RGB."""
        return np.asarray(self._dlib.get_face_chip(rgb, self._shape(face), size, padding))

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        return np.asarray(self.encoder.compute_face_descriptor(np.ascontiguousarray(chip)), dtype=np.float32)

    def embed(self, rgb: np.ndarray, face: DetectedFace, flip: bool = False) -> np.ndarray:
        chip = self.chip(rgb, face)
        vec = self.embed_chip(chip)
        if flip:
            vec = (vec + self.embed_chip(chip[:, ::-1])) / 2
        return vec

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Negated Euclidean distance, so that higher means more alike (broadcasts over rows)."""
        return -np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1)
