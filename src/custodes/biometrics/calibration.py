"""Score calibration: per-model impostor normalisation, fusion weights and FMR thresholds.

The shipped `calibration.json` is produced by `custodes eval faces --calibrate` and records the
model versions it was measured with; the engine refuses a calibration made for other models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).with_name("calibration.json")
DEFAULT_TARGET_FMR = 1e-3


@dataclass(frozen=True)
class ModelNorm:
    """How one model's raw similarity is z-normalised by its own impostor scores and weighted."""

    name: str
    version: str
    impostor_mean: float
    impostor_std: float
    weight: float
    # Mirror-image averaging: "none", "template" (reference photos only, free at check-in time)
    # or "both" (reference and probe; costs a second embedding per check-in).
    flip: str = "none"

    def flips(self, for_template: bool) -> bool:
        return self.flip == "both" or (for_template and self.flip == "template")


@dataclass(frozen=True)
class Calibration:
    id: str
    models: tuple[ModelNorm, ...]
    # FMR target (as a string key such as "1e-03") -> fused-score threshold (match if score >= it).
    thresholds: dict[str, float]
    default_target_fmr: float = DEFAULT_TARGET_FMR
    # Multi-image templates: how a probe's scores against several reference images are combined.
    template_fusion: str = "mean"
    # Per-template score normalisation: {"file": <npz beside this file>, "top_fraction": f, "id", "source",
    # "licence"}. Empty: raw fused scores are compared with the thresholds.
    cohort: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    @staticmethod
    def key(target_fmr: float) -> str:
        return f"{target_fmr:.0e}"

    def threshold(self, target_fmr: float | None = None) -> float:
        target = self.default_target_fmr if target_fmr is None else target_fmr
        try:
            return self.thresholds[self.key(target)]
        except KeyError:
            known = ", ".join(sorted(self.thresholds))
            raise ValueError(f"no threshold calibrated for FMR {target:g} (calibrated: {known})") from None

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def fuse(self, raw: dict[str, np.ndarray | float]) -> np.ndarray:
        """Weighted sum of z-normalised raw similarities, one entry per model."""
        total = 0.0
        for m in self.models:
            total = total + m.weight * (np.asarray(raw[m.name], dtype=np.float64) - m.impostor_mean) / m.impostor_std
        return np.asarray(total)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["models"] = [asdict(m) for m in self.models]
        return json.dumps(payload, indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        """Write to `path`: there is no default, so an evaluation cannot overwrite the shipped file."""
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        d = json.loads(text)
        d["models"] = tuple(ModelNorm(**m) for m in d["models"])
        return cls(**d)

    @classmethod
    def load(cls, path: Path | None = None) -> Calibration:
        return cls.from_json(Path(path or SHIPPED).read_text())


def threshold_at_fmr(impostor_scores: np.ndarray, target_fmr: float) -> float:
    """Smallest threshold whose false-match rate (scores >= threshold) does not exceed the target.

    A partial sort (linear time, no float64 copy), since impostor sets run to tens of millions."""
    scores = np.asarray(impostor_scores)
    n = len(scores)
    allowed = int(np.floor(target_fmr * n))
    if allowed >= n:
        return float(np.min(scores))
    # Place the threshold just above the (allowed+1)-th highest impostor score.
    k = n - 1 - allowed
    return float(np.nextafter(np.float64(np.partition(scores, k)[k]), np.inf))


def fnmr_at(genuine_scores: np.ndarray, threshold: float) -> float:
    g = np.asarray(genuine_scores)
    return float(np.mean(g < threshold)) if len(g) else float("nan")


def fmr_at(impostor_scores: np.ndarray, threshold: float) -> float:
    i = np.asarray(impostor_scores)
    return float(np.mean(i >= threshold)) if len(i) else float("nan")
