"""Fit the calibration on the development training pairs, and measure each accuracy lever.

Protocol (LFW View 1): train and test pairs use disjoint people. Thresholds come from every
cross-identity pair among the training images (millions, so FMR 1e-4 is estimable). Lever
figures are FNMR at each split's own thresholds; choices are made on train only. The cohort for
per-template normalisation is always the *other* split's faces, so no template is ever
normalised against its own person.
"""

from __future__ import annotations

import datetime as dt
from itertools import product

import numpy as np

from custodes.biometrics.calibration import Calibration, ModelNorm, fnmr_at, threshold_at_fmr
from custodes.lab.faces.lfw import EmbeddedSet, Pair, images_of
from custodes.lab.faces.scoring import cohort_stats, fuse, pair_index, similarity_matrix, template_trials

TARGETS = (1e-2, 1e-3, 1e-4)
FLIPS = ("none", "template", "both")
TOP_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3)
STEP = 0.1
TEMPLATE_PHOTOS = 3


def fnmrs(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    return {f"{t:.0e}": fnmr_at(genuine, threshold_at_fmr(impostor, t)) for t in (1e-3, 1e-4)}


def _key(result: dict) -> float:
    return result["1e-03"] + result["1e-04"]


class Tuner:
    """Raw similarity matrices for every (model, flip) variant over one embedded set."""

    def __init__(self, emb: EmbeddedSet, train: list[Pair], test: list[Pair], versions: dict[str, str]) -> None:
        self.emb, self.versions, self.models = emb, versions, tuple(versions)
        self.split = {"train": pair_index(emb, train, images_of(train)), "test": pair_index(emb, test, images_of(test))}
        self.rows = {s: np.array(sorted(emb.index[p] for p in images_of(pairs)))
                     for s, pairs in (("train", train), ("test", test))}
        self._raw: dict[tuple[str, str], np.ndarray] = {}

    def raw(self, model: str, flip: str) -> np.ndarray:
        if (model, flip) not in self._raw:
            self._raw[(model, flip)] = similarity_matrix(self.emb, model, flip)
        return self._raw[(model, flip)]

    def norms(self, spec: list[tuple[str, str, float]], cohort: dict | None = None, cal_id: str = "probe") -> Calibration:
        """A calibration whose z-norms come from the training impostors (thresholds added by `fit`)."""
        idx = self.split["train"]
        models = []
        for model, flip, weight in spec:
            imp = self.raw(model, flip)[idx.imp_i, idx.imp_j]
            models.append(ModelNorm(model, self.versions[model], float(imp.mean()), float(imp.std()), weight, flip))
        return Calibration(id=cal_id, models=tuple(models), thresholds={}, cohort=cohort or {})

    def scores(self, cal: Calibration, split: str) -> np.ndarray:
        """n x n scores as the engine computes them for templates of this split's people."""
        fused = fuse(cal, {m.name: self.raw(m.name, m.flip) for m in cal.models})
        if not cal.cohort:
            return fused
        other = self.rows["test" if split == "train" else "train"]
        mu, sd = cohort_stats(fused[:, other], float(cal.cohort["top_fraction"]))
        return (fused - mu[:, None]) / sd[:, None]

    def measure(self, cal: Calibration, splits=("train", "test")) -> dict:
        out = {}
        for split in splits:
            idx, m = self.split[split], self.scores(cal, split)
            out[split] = fnmrs(m[idx.gen_i, idx.gen_j], m[idx.imp_i, idx.imp_j])
        return out

    def thresholds(self, cal: Calibration) -> dict[str, float]:
        idx, m = self.split["train"], self.scores(cal, "train")
        imp = m[idx.imp_i, idx.imp_j]
        return {Calibration.key(t): threshold_at_fmr(imp, t) for t in TARGETS}

    def operational(self, cal: Calibration, split: str, fusion: str = "mean") -> dict:
        """Templates of 3 photos (mean or max score, normalised per template) against one probe photo."""
        fused = fuse(cal, {m.name: self.raw(m.name, m.flip) for m in cal.models})
        other = self.rows["test" if split == "train" else "train"]
        cohort = fused[:, other] if cal.cohort else None
        g, i, templates = template_trials(fused, self.emb.identities, self.rows[split], cohort,
                                          float(cal.cohort.get("top_fraction", 0)), TEMPLATE_PHOTOS, fusion)
        return {"genuine": len(g), "impostor": len(i), "templates": templates, **fnmrs(g, i)}


def _grid(models: tuple[str, ...]):
    steps = int(round(1 / STEP))
    for parts in product(range(steps + 1), repeat=len(models)):
        if sum(parts) == steps:
            yield tuple(round(p * STEP, 2) for p in parts)


def worst_same_group_fmr(tuner: Tuner, cal: Calibration, labels_dir, split: str = "train") -> float | None:
    """The highest same-group FMR, at the split's own global 1e-3 threshold, over the labelled
    groups with at least 10,000 same-group impostor pairs (10 expected false matches)."""
    from custodes.biometrics.fairness import NOT_A_GROUP, load_labels, per_group

    if labels_dir is None or not labels_dir.exists():
        return None
    idx, m = tuner.split[split], tuner.scores(cal, split)
    thr = threshold_at_fmr(m[idx.imp_i, idx.imp_j], 1e-3)
    groups = per_group(tuner.emb.paths, load_labels(labels_dir), m, idx.gen_i, idx.gen_j, idx.imp_i, idx.imp_j, thr, 1e-3)
    rates = [r["same_group_fmr"] for rows in groups.values() for r in rows
             if r["group"] not in NOT_A_GROUP and r["same_group_impostor_pairs"] >= 10_000]
    return max(rates) if rates else None


def fit(tuner: Tuner, cohort_meta: dict, labels_dir=None) -> tuple[Calibration, list[dict], dict]:
    """Measure every lever, choose on the training split only; returns (calibration, levers, extra)."""
    levers: list[dict] = []

    def record(name: str, setting: str, result: dict, kept: bool = False, spec=None) -> dict:
        row = {"lever": name, "setting": setting, "spec": spec, "result": result, "kept": kept}
        levers.append(row)
        return row

    flip_label = {"none": "", "template": " + flip (reference only)", "both": " + flip (reference and probe)"}
    for model, flip in product(tuner.models, FLIPS):
        record(f"{model}{flip_label[flip]}", "single-photo", tuner.measure(tuner.norms([(model, flip, 1.0)])))
    # Reference-side flips are free at check-in time; probe-side ones cost a second embedding.
    best, best_key = None, None
    for weights in _grid(tuner.models):
        cal = tuner.norms([(m, "template", w) for m, w in zip(tuner.models, weights, strict=True)])
        train = tuner.measure(cal, ("train",))["train"]
        if best_key is None or _key(train) < best_key:
            best, best_key = cal, _key(train)
    spec = [(m.name, m.flip, m.weight) for m in best.models]
    record("fusion, weights chosen on train (z-norm, reference flips)", "single-photo", tuner.measure(best), spec=spec)
    # Per-template cohort normalisation, its top-k chosen on train, then the weights again under it.
    by_k = {k: tuner.measure(tuner.norms(spec, {"top_fraction": k}), ("train",))["train"] for k in TOP_FRACTIONS}
    top_k = min(by_k, key=lambda k: _key(by_k[k]))
    normed, normed_key = None, None
    for weights in _grid(tuner.models):
        cal = tuner.norms([(m, "template", w) for m, w in zip(tuner.models, weights, strict=True)], {"top_fraction": top_k})
        train = tuner.measure(cal, ("train",))["train"]
        if normed_key is None or _key(train) < normed_key:
            normed, normed_key = cal, _key(train)
    nspec = [(m.name, m.flip, m.weight) for m in normed.models]
    normed_key = _key(tuner.measure(normed, ("train",))["train"])
    worst = {name: worst_same_group_fmr(tuner, c, labels_dir) for name, c in (("plain", best), ("normalised", normed))}
    # Kept if it lowers FNMR on train by half a point or more, or if it costs no more than that and
    # lowers the worst same-group FMR on train (labels judge the lever here, never a comparison).
    chosen_norm = normed_key < best_key - 0.005 or (
        normed_key <= best_key + 0.005 and worst["normalised"] is not None and worst["plain"] is not None
        and worst["normalised"] < worst["plain"])
    record(f"per-template cohort normalisation (top {top_k:.0%} of the other split's faces; chosen on train "
           f"from {list(TOP_FRACTIONS)})", "single-photo",
           tuner.measure(normed) | {"train_by_top_fraction": by_k, "train_worst_same_group_fmr_at_1e-03": worst},
           kept=chosen_norm, spec=nspec)
    final = normed if chosen_norm else best
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    cohort = ({**cohort_meta, "top_fraction": top_k} if chosen_norm else {})
    cal = tuner.norms([(m.name, m.flip, m.weight) for m in final.models], cohort, f"lfw-view1-devtrain-{stamp}")
    cal = Calibration(**{**cal.__dict__, "thresholds": tuner.thresholds(cal)})
    levers[-1 if chosen_norm else -2]["kept"] = True
    extra = {}
    for label, c in (("without cohort normalisation", best), ("chosen calibration", cal)):
        result = {s: tuner.operational(c, s) for s in ("train", "test")}
        record(f"3-photo enrolment (mean score), {label}", "operational (3 enrolment photos, one probe photo)",
               result, kept=label == "chosen calibration")
    extra["test_scores"] = {"without cohort normalisation": tuner.scores(best, "test"),
                            "with cohort normalisation": tuner.scores(normed, "test")}
    return cal, levers, extra
