"""Verification metrics: FNMR at a target FMR, 10-fold accuracy, Wilson intervals, DET curves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from custodes.biometrics.calibration import fmr_at, fnmr_at, threshold_at_fmr


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval for k successes in n trials."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def operating_point(genuine: np.ndarray, impostor: np.ndarray, target_fmr: float) -> dict:
    """Threshold from these impostors for the target FMR, and the FNMR it gives."""
    thr = threshold_at_fmr(impostor, target_fmr)
    return at_threshold(genuine, impostor, thr) | {"target_fmr": target_fmr}


def at_threshold(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> dict:
    g, i = np.asarray(genuine), np.asarray(impostor)
    misses, false_matches = int(np.sum(g < threshold)), int(np.sum(i >= threshold))
    return {
        "threshold": float(threshold),
        "fnmr": fnmr_at(g, threshold),
        "fnmr_ci95": wilson(misses, len(g)),
        "fmr": fmr_at(i, threshold),
        "fmr_ci95": wilson(false_matches, len(i)),
        "genuine": len(g),
        "impostor": len(i),
    }


def ten_fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray | None = None) -> dict | None:
    """LFW protocol: threshold chosen on 9 folds, accuracy measured on the 10th.

    `folds` is each pair's fold as the pairs file defines it (LFW's pairs.txt: 10 sets of 300
    same + 300 different pairs). A file without folds (the View 1 development files) has no
    benchmark 10-fold figure, so None is returned rather than an invented split.
    """
    if folds is None:
        return None
    scores, same, folds = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool), np.asarray(folds)
    accuracies = []
    for k in sorted(set(folds.tolist())):
        train, test = folds != k, folds == k
        # Accuracy for every candidate threshold at once, via sorted cumulative counts.
        order = np.argsort(scores[train])
        s, y = scores[train][order], same[train][order]
        # threshold just above s[idx]: everything <= s[idx] is "different"
        correct = np.cumsum(~y) + (y.sum() - np.cumsum(y))
        best = int(np.argmax(correct))
        thr = s[best] + 1e-9
        # Or accept everything, if that is better still.
        if y.sum() > correct[best]:
            thr = s[0] - 1.0
        accuracies.append(float(np.mean((scores[test] >= thr) == same[test])))
    return {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)), "folds": accuracies,
            "protocol": "the pairs file's own folds"}


def det_points(genuine: np.ndarray, impostor: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) over thresholds spanning the impostor tail, for a log-scale DET plot.

    Sorts each score set once (tens of millions of impostor scores for LFW's 6,000 pairs) and
    reads every threshold from the sorted array, in float32 to keep the peak memory small."""
    imp = np.sort(np.asarray(impostor, dtype=np.float32))
    gen = np.sort(np.asarray(genuine, dtype=np.float32))
    n = len(imp)
    fmrs = np.logspace(math.log10(max(1.0 / n, 1e-6)), 0, points)
    # Same rule as threshold_at_fmr: just above the (allowed+1)-th highest impostor score.
    allowed = np.minimum(np.floor(fmrs * n).astype(np.int64), n - 1)
    thresholds = np.nextafter(imp[n - 1 - allowed], np.float32(np.inf))
    fmr = 1 - np.searchsorted(imp, thresholds, side="left") / n
    fnmr = np.searchsorted(gen, thresholds, side="left") / len(gen)
    return fmr, fnmr


def plot_det(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for label, (genuine, impostor) in curves.items():
        fmr, fnmr = det_points(genuine, impostor)
        ax.plot(np.clip(fmr, 1e-7, 1), np.clip(fnmr, 1e-4, 1), label=label)
    for target in (1e-4, 1e-3):
        ax.axvline(target, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("false match rate (FMR)")
    ax.set_ylabel("false non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
