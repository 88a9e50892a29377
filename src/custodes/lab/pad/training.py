"""Training the passive PAD model on a NUAA-layout folder, reproducibly (`custodes pad train`).

Layout: `<data>/ClientRaw/<subject>/*.jpg` (bona fide) and `<data>/ImposterRaw/<subject>/*.jpg`
(printed-photo attacks). Faces are found with the engine's own dlib detector, exactly as at
check-in time. The operating threshold is chosen on out-of-fold scores (leave one subject out),
never on scores of images the model was fitted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

from custodes.biometrics.faces import Landmarks
from custodes.biometrics.liveness.passive import (
    MODEL_PATH,
    FeatureConfig,
    PadModel,
    texture_features,
)

BONA_FIDE_DIR = "ClientRaw"
ATTACK_DIR = "ImposterRaw"
# Inverse regularisation strength; fixed, not tuned per run (nine subjects are too few to tune on).
DEFAULT_C = 0.1
THRESHOLD_RULE = "equal APCER and BPCER on leave-one-subject-out scores of the training subjects"


@dataclass(frozen=True)
class PadImage:
    path: Path
    subject: str
    bona_fide: bool


@dataclass
class PadDataset:
    features: np.ndarray
    bona_fide: np.ndarray
    subjects: np.ndarray
    images: list[PadImage]
    not_acquired: list[PadImage] = field(default_factory=list)
    landmarks: list[Landmarks] = field(default_factory=list)
    # Features of the box a check-in actually scores (re-found by tracking), when asked for.
    tracked_features: np.ndarray | None = None


def list_images(data_dir: Path, subjects: Sequence[str] | None = None, per_subject: int | None = None) -> list[PadImage]:
    """Every image in sorted order; `per_subject` keeps the first n per subject and class."""
    data_dir = Path(data_dir)
    found = []
    for folder, bona_fide in ((BONA_FIDE_DIR, True), (ATTACK_DIR, False)):
        root = data_dir / folder
        if not root.is_dir():
            raise FileNotFoundError(f"{root} not found: expected the NUAA layout ClientRaw/ and ImposterRaw/")
        for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if subjects is not None and subject_dir.name not in subjects:
                continue
            files = sorted(p for p in subject_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            found += [PadImage(p, subject_dir.name, bona_fide) for p in files[:per_subject]]
    if not found:
        raise FileNotFoundError(f"no images under {data_dir}")
    return found


def load_dataset(images: Iterable[PadImage], config: FeatureConfig = FeatureConfig(), progress: bool = True,
                 description: str = "faces and texture", tracked: bool = False) -> PadDataset:
    """Detect the largest face in each image and compute its texture features (and, with
    `tracked`, those of the box `track_faces` finds around it, as in a check-in)."""
    from custodes.biometrics.dlib_model import DlibModels
    from custodes.biometrics.image_input import load_rgb
    from custodes.biometrics.liveness.tracking import find_near

    models = DlibModels.load()
    images = list(images)
    rows, kept, missed, marks, near = [], [], [], [], []
    for image in track(images, description=description, disable=not progress, transient=True):
        rgb = load_rgb(image.path)
        faces = models.detect(rgb)
        if not faces:
            missed.append(image)
            continue
        rows.append(texture_features(rgb, faces[0].box, config))
        kept.append(image)
        marks.append(faces[0].landmarks)
        if tracked:
            box = (find_near(rgb, faces[0].box, models) or faces)[0].box
            near.append(texture_features(rgb, box, config))
    return PadDataset(
        features=np.asarray(rows, dtype=np.float64),
        bona_fide=np.array([i.bona_fide for i in kept]),
        subjects=np.array([i.subject for i in kept]),
        images=kept,
        not_acquired=missed,
        landmarks=marks,
        tracked_features=np.asarray(near, dtype=np.float64) if tracked else None,
    )


@dataclass(frozen=True)
class LinearFit:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def fit_linear(x: np.ndarray, bona_fide: np.ndarray, c: float = DEFAULT_C) -> LinearFit:
    """Standardise, then an L2 logistic regression with balanced class weights (lbfgs: deterministic)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    # Constant features (an LBP bin that never fires) would divide by zero at scoring time.
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    clf.fit((x - scaler.mean_) / scale, bona_fide.astype(int))
    return LinearFit(scaler.mean_.copy(), scale, clf.coef_[0].copy(), float(clf.intercept_[0]))


def out_of_fold_logits(data: PadDataset, c: float = DEFAULT_C, mask: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-subject-out logits for the rows in `mask` (NaN elsewhere)."""
    mask = np.ones(len(data.bona_fide), dtype=bool) if mask is None else mask
    logits = np.full(len(mask), np.nan)
    for subject in np.unique(data.subjects[mask]):
        test = mask & (data.subjects == subject)
        train = mask & ~test
        model = fit_linear(data.features[train], data.bona_fide[train], c)
        logits[test] = model.logit(data.features[test])
    return logits


def error_rates(logits: np.ndarray, bona_fide: np.ndarray, threshold: float) -> tuple[float, float]:
    """(APCER, BPCER): attacks accepted as bona fide, bona fide rejected as attacks."""
    accepted = logits >= threshold
    apcer = float(accepted[~bona_fide].mean()) if (~bona_fide).any() else float("nan")
    bpcer = float((~accepted[bona_fide]).mean()) if bona_fide.any() else float("nan")
    return apcer, bpcer


def equal_error_threshold(logits: np.ndarray, bona_fide: np.ndarray) -> float:
    """The threshold minimising max(APCER, BPCER); the middle of the best range, not its edge,
    because with well-separated scores a whole gap is optimal and its edge sits on a sample."""
    candidates = np.unique(logits)
    worst = np.array([max(error_rates(logits, bona_fide, t)) for t in candidates])
    best = candidates[worst == worst.min()]
    low, high = best.min(), best.max()
    # The range of equally good thresholds runs up to just below the next candidate.
    above = candidates[candidates > high]
    high = (high + above[0]) / 2 if len(above) else high
    below = candidates[candidates < low]
    low = (low + below[-1]) / 2 if len(below) else low
    return float((low + high) / 2)


def train_model(data: PadDataset, config: FeatureConfig = FeatureConfig(), c: float = DEFAULT_C,
                data_name: str = "") -> PadModel:
    """Fit on every subject; threshold from leave-one-subject-out scores of the same subjects."""
    oof = out_of_fold_logits(data, c)
    threshold = equal_error_threshold(oof, data.bona_fide)
    apcer, bpcer = error_rates(oof, data.bona_fide, threshold)
    fit = fit_linear(data.features, data.bona_fide, c)
    import sklearn

    training = {
        "data": data_name,
        "subjects": sorted(set(data.subjects.tolist())),
        "bona_fide_images": int(data.bona_fide.sum()),
        "attack_images": int((~data.bona_fide).sum()),
        "not_acquired": len(data.not_acquired),
        "classifier": f"scikit-learn {sklearn.__version__} LogisticRegression(C={c}, class_weight=balanced)",
        "threshold_rule": THRESHOLD_RULE,
        "out_of_fold": {"apcer": round(apcer, 4), "bpcer": round(bpcer, 4)},
    }
    return PadModel(config, fit.mean, fit.scale, fit.coef, fit.intercept, threshold, training).rounded()


def pad_train(data: Path | None = None, out: Path = MODEL_PATH, progress: bool = True) -> PadModel:
    """Body of `custodes pad train`: rebuild the model file from the images, deterministically."""
    from custodes.config import data_root

    data = Path(data) if data else data_root() / "pad" / "nuaa-dev"
    console = Console(stderr=True)
    dataset = load_dataset(list_images(data), progress=progress)
    with console.status("fitting (leave-one-subject-out for the threshold, then all subjects)"):
        model = train_model(dataset, data_name=data.name)
    Path(out).write_text(model.to_json())
    t = model.training
    console.print(
        f"wrote {out} ({Path(out).stat().st_size / 1024:.0f} KiB), version {model.version}: "
        f"{t['bona_fide_images']} bona fide, {t['attack_images']} attack images of {len(t['subjects'])} subjects, "
        f"{t['not_acquired']} without a face; threshold {model.threshold:.3f} (logit); "
        f"out-of-fold APCER {t['out_of_fold']['apcer']:.2%}, BPCER {t['out_of_fold']['bpcer']:.2%}"
    )
    return model
