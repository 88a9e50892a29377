"""Per-template score normalisation against a cohort of public research faces (embeddings only).

At enrolment a template is scored against every cohort face; the mean and spread of its top-k
cohort scores say how crowded its neighbourhood is. A comparison's fused score is then expressed
in those units, so a face that resembles many others (whatever group it belongs to) needs a
higher raw score to match. No label is used: only scores against the cohort. The cohort ships as
embeddings, never images, with its source and licence in the calibration; the file also holds a
hash of each cohort face's identity, used by evaluation only (to leave a person's own photos out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from custodes.biometrics.calibration import SHIPPED, Calibration


def cohort_file(cal: Calibration, base: Path | None = None) -> Path:
    return (base or SHIPPED.parent) / cal.cohort["file"]


def load_cohort(cal: Calibration, base: Path | None = None) -> dict[str, np.ndarray]:
    """Per model, the cohort's probe-style vectors (float32); {} when the calibration has no cohort."""
    if not cal.cohort:
        return {}
    path = cohort_file(cal, base)
    if not path.exists():
        raise RuntimeError(f"calibration {cal.id} needs its cohort file {path}")
    with np.load(path, allow_pickle=False) as z:
        return {m.name: z[m.name].astype(np.float32) for m in cal.models}


def save_cohort(path: Path, vectors: dict[str, np.ndarray], identity_hashes: np.ndarray) -> None:
    np.savez_compressed(path, identity_sha256=np.asarray(identity_hashes), **{k: v.astype(np.float16) for k, v in vectors.items()})


def top_stats(scores: np.ndarray, top_fraction: float) -> tuple[float, float]:
    """Mean and standard deviation of the highest `top_fraction` of one template's cohort scores."""
    k = max(1, min(len(scores), round(top_fraction * len(scores))))
    top = np.partition(np.asarray(scores, dtype=np.float64), len(scores) - k)[-k:]
    return float(top.mean()), float(top.std() + 1e-3)
