"""Passive presentation-attack detection: colour texture of the face crop, scored by a linear model.

A printed or replayed face is re-imaged: its colours are squeezed into the printer's or screen's
gamut and its fine texture is blurred or overlaid with dots and moire. Uniform LBP histograms
per channel of HSV and YCrCb (Boulkenafet, Komulainen & Hadid, "Face spoofing detection using
colour texture analysis", 2016) capture both. The classifier is a logistic regression whose
coefficients ship as JSON (no pickle); `custodes pad train` rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from custodes.biometrics.faces import FaceBox

MODEL_FORMAT = "custodes-pad-model/1"
MODEL_PATH = Path(__file__).with_name("pad_model.json")


@dataclass(frozen=True)
class FeatureConfig:
    size: int = 64  # the face box is resized to size x size before texture is measured
    margin: float = 0.0  # widening of the detector box on each side (0 = the box itself)
    radii: tuple[int, ...] = (1, 2)
    colour_spaces: tuple[str, ...] = ("HSV", "YCrCb")
    # Average the features of the crop and its mirror image, so the score does not depend on
    # whether a device stores selfies flipped (LBP codes are not symmetric). Older models: False.
    mirror: bool = True

    def as_dict(self) -> dict:
        body = {"size": self.size, "margin": self.margin, "radii": list(self.radii),
                "colour_spaces": list(self.colour_spaces), "histogram": "lbp-u2-8", "transform": "sqrt"}
        return body | ({"mirror": True} if self.mirror else {})

    @classmethod
    def from_dict(cls, body: dict) -> FeatureConfig:
        return cls(size=int(body["size"]), margin=float(body["margin"]), radii=tuple(body["radii"]),
                   colour_spaces=tuple(body["colour_spaces"]), mirror=bool(body.get("mirror", False)))


@cache
def _uniform_lbp_table() -> tuple[np.ndarray, int]:
    """Map the 256 8-neighbour codes to 58 uniform patterns (<= 2 bit transitions) plus one bin."""
    table = np.empty(256, dtype=np.intp)
    bins = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        if sum(bits[i] != bits[(i + 1) % 8] for i in range(8)) <= 2:
            table[code] = bins
            bins += 1
        else:
            table[code] = -1
    table[table == -1] = bins
    return table, bins + 1


def lbp_histogram(channel: np.ndarray, radius: int) -> np.ndarray:
    """Normalised uniform LBP(8, radius) histogram of one channel (square neighbourhood)."""
    table, bins = _uniform_lbp_table()
    ch = channel.astype(np.int16)
    h, w = ch.shape
    r = radius
    centre = ch[r : h - r, r : w - r]
    code = np.zeros(centre.shape, dtype=np.uint8)
    offsets = ((-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r))
    for bit, (dy, dx) in enumerate(offsets):
        code |= (ch[r + dy : h - r + dy, r + dx : w - r + dx] >= centre).astype(np.uint8) << bit
    hist = np.bincount(table[code].ravel(), minlength=bins).astype(np.float64)
    return hist / hist.sum()


def face_crop(rgb: np.ndarray, box: FaceBox, config: FeatureConfig) -> np.ndarray:
    """The detector box (optionally widened), clipped to the image and resized."""
    mx, my = config.margin * box.width, config.margin * box.height
    height, width = rgb.shape[:2]
    left, top = max(int(box.left - mx), 0), max(int(box.top - my), 0)
    right, bottom = min(int(box.right + mx), width), min(int(box.bottom + my), height)
    if right - left < 8 or bottom - top < 8:
        raise ValueError("the face box lies (almost) outside the image")
    return cv2.resize(np.ascontiguousarray(rgb[top:bottom, left:right]), (config.size, config.size),
                      interpolation=cv2.INTER_AREA)


_CONVERSIONS = {"HSV": cv2.COLOR_RGB2HSV, "YCrCb": cv2.COLOR_RGB2YCrCb, "Lab": cv2.COLOR_RGB2Lab}


def _histograms(crop: np.ndarray, config: FeatureConfig) -> np.ndarray:
    parts = []
    for space in config.colour_spaces:
        converted = cv2.cvtColor(crop, _CONVERSIONS[space])
        for k in range(3):
            for radius in config.radii:
                parts.append(lbp_histogram(converted[:, :, k], radius))
    return np.concatenate(parts)


def texture_features(rgb: np.ndarray, box: FaceBox, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The feature vector of one face: sqrt of each LBP histogram (Hellinger), concatenated.
    With `config.mirror`, each histogram is the mean of the crop's and its mirror image's."""
    crop = face_crop(rgb, box, config)
    hist = _histograms(crop, config)
    if config.mirror:
        hist = (hist + _histograms(np.ascontiguousarray(crop[:, ::-1]), config)) / 2
    return np.sqrt(hist)


@dataclass(frozen=True)
class PadModel:
    """A standardise-then-linear model over texture features; `logit > threshold` means bona fide."""

    features: FeatureConfig
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    training: dict

    @property
    def version(self) -> str:
        digest = hashlib.sha256(self.to_json().encode()).hexdigest()[:12]
        return f"pad-lbp-colour/{digest}"

    def logit(self, features: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(features) - self.mean) / self.scale) @ self.coef + self.intercept

    def score_face(self, rgb: np.ndarray, box: FaceBox) -> float:
        """Bona fide logit of one face (higher = more likely a live face)."""
        return float(self.logit(texture_features(rgb, box, self.features))[0])

    @property
    def probability_threshold(self) -> float:
        return probability(self.threshold)

    def to_json(self) -> str:
        def rounded(values: np.ndarray) -> list[float]:
            # 7 significant digits keep the file small and byte-identical across rebuilds.
            return [float(f"{v:.7g}") for v in np.asarray(values, dtype=np.float64)]

        body = {
            "format": MODEL_FORMAT,
            "features": self.features.as_dict(),
            "threshold": float(f"{self.threshold:.7g}"),
            "intercept": float(f"{self.intercept:.7g}"),
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "coef": rounded(self.coef),
            "training": self.training,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PadModel:
        body = json.loads(text)
        if body.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} file")
        return cls(
            features=FeatureConfig.from_dict(body["features"]),
            mean=np.asarray(body["mean"], dtype=np.float64),
            scale=np.asarray(body["scale"], dtype=np.float64),
            coef=np.asarray(body["coef"], dtype=np.float64),
            intercept=float(body["intercept"]),
            threshold=float(body["threshold"]),
            training=dict(body.get("training", {})),
        )

    def rounded(self) -> PadModel:
        """The model exactly as it will be read back from its JSON file."""
        return PadModel.from_json(self.to_json())


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


_models: dict[Path, PadModel] = {}
_lock = threading.Lock()


def load_pad_model(path: Path | str | None = None) -> PadModel:
    """The shipped model (or another file), read once per process."""
    key = Path(path or MODEL_PATH).resolve()
    if key not in _models:
        with _lock:
            if key not in _models:
                if not key.exists():
                    raise FileNotFoundError(f"no PAD model at {key}: run `custodes pad train`")
                _models[key] = PadModel.from_json(key.read_text())
    return _models[key]
