"""Scores of every image pair of an evaluation set, per model and fused, from cached embeddings.

All-pairs impostor sets are large (12.5 M pairs for LFW View 1), so scores are computed as
n x n matrices and the wanted pairs are read out of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custodes.biometrics.calibration import Calibration
from custodes.lab.faces.lfw import EmbeddedSet, Pair

# Engine model name -> key of its vectors in the embedding cache.
CACHE_KEY = {"dlib-resnet": "dlib", "faceres": "faceres", "sface": "sface"}
COSINE = {"faceres", "sface"}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def vectors(emb: EmbeddedSet, model: str, flip: bool) -> np.ndarray:
    """Per-image vectors as the engine would compute them, with or without mirror averaging."""
    key = CACHE_KEY[model]
    plain = emb.matrix(key)
    if model in COSINE:
        plain = _unit(plain)
    if not flip:
        return plain
    flipped = emb.matrix(key + "_flip")
    if model in COSINE:
        return _unit(plain + _unit(flipped))
    return (plain + flipped) / 2


def similarity(model: str, refs: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Raw similarity, row = reference, column = probe (dlib: -distance; the others: cosine)."""
    t, p = refs.astype(np.float32), probes.astype(np.float32)
    if model in COSINE:
        return t @ p.T
    d2 = np.sum(t * t, axis=1)[:, None] + np.sum(p * p, axis=1)[None, :] - 2 * (t @ p.T)
    return -np.sqrt(np.maximum(d2, 0))


def similarity_matrix(emb: EmbeddedSet, model: str, flip: str) -> np.ndarray:
    """n x n raw similarity, row = reference image, column = probe."""
    return similarity(model, vectors(emb, model, flip in ("both", "template")), vectors(emb, model, flip == "both"))


def fuse(cal: Calibration, raw: dict[str, np.ndarray]) -> np.ndarray:
    """The calibration's fusion in float32, accumulated in place (no n^2 float64 temporaries)."""
    out = None
    for m in cal.models:
        if m.weight == 0:
            continue
        a, b = np.float32(m.weight / m.impostor_std), np.float32(m.weight * m.impostor_mean / m.impostor_std)
        term = raw[m.name] * a
        term -= b
        out = term if out is None else np.add(out, term, out=out)
    return out


def top_count(top_fraction: float, cohort_size: int) -> int:
    """How many of the highest cohort scores are used: a fraction of the cohort, so the statistics
    do not shift when evaluation has to leave some cohort faces out."""
    return max(1, min(cohort_size, round(top_fraction * cohort_size)))


def cohort_stats(cohort_scores: np.ndarray, top_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each template's highest `top_fraction` of scores against the cohort (rows)."""
    k = top_count(top_fraction, cohort_scores.shape[1])
    top = np.partition(cohort_scores, cohort_scores.shape[1] - k, axis=1)[:, -k:].astype(np.float64)
    return top.mean(axis=1).astype(np.float32), (top.std(axis=1) + 1e-3).astype(np.float32)


@dataclass
class PairIndex:
    """Row/column indices of the genuine pairs of a pairs file and of all cross-identity pairs."""

    gen_i: np.ndarray
    gen_j: np.ndarray
    imp_i: np.ndarray
    imp_j: np.ndarray
    listed_i: np.ndarray  # every listed pair (genuine and impostor) in file order
    listed_j: np.ndarray
    listed_same: np.ndarray
    listed_folds: np.ndarray | None = None  # the pairs file's own folds, if it has them


def cross_identity_pairs(identities: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j), i < j, of `rows` whose identities differ, as int32 (29.6 M pairs for 6,000
    LFW pairs: built row by row so no n^2 int64 temporaries are ever held)."""
    codes = np.unique(identities, return_inverse=True)[1].astype(np.int32)
    rows = np.asarray(rows, dtype=np.int32)
    part_i, part_j = [], []
    for a in range(len(rows) - 1):
        rest = rows[a + 1:]
        keep = rest[codes[rest] != codes[rows[a]]]
        part_i.append(np.full(len(keep), rows[a], dtype=np.int32))
        part_j.append(keep)
    if not part_i:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(part_i), np.concatenate(part_j)


def pair_index(emb: EmbeddedSet, pairs: list[Pair], subset: list[str] | None = None) -> PairIndex:
    """Index the listed pairs, and every cross-identity pair among `subset` (default: all images)."""
    li = np.array([emb.index[p.a] for p in pairs])
    lj = np.array([emb.index[p.b] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs]) if pairs and all(p.fold is not None for p in pairs) else None
    rows = np.array(sorted(emb.index[p] for p in (subset if subset is not None else emb.paths)))
    imp_i, imp_j = cross_identity_pairs(emb.identities, rows)
    return PairIndex(li[same], lj[same], imp_i, imp_j, li, lj, same, folds)


class Scorer:
    """Fused scores under a calibration (normalisation, weights, flips, cohort) for one set.

    `cohort` holds, per model, the probe-style vectors of the cohort faces; with a calibration that
    names a cohort, every row (reference) is normalised by its own top-k cohort statistics, as the
    engine does once per template at enrolment."""

    def __init__(self, emb: EmbeddedSet, calibration: Calibration, cohort: dict[str, np.ndarray] | None = None) -> None:
        self.calibration = calibration
        self.raw = {m.name: similarity_matrix(emb, m.name, m.flip) for m in calibration.models}
        self.cohort_raw = None
        if cohort is not None and calibration.cohort:
            self.cohort_raw = {m.name: similarity(m.name, vectors(emb, m.name, m.flip in ("both", "template")),
                                                  cohort[m.name]) for m in calibration.models}

    def plain_matrix(self) -> np.ndarray:
        return fuse(self.calibration, self.raw)

    def cohort_matrix(self) -> np.ndarray | None:
        return None if self.cohort_raw is None else fuse(self.calibration, self.cohort_raw)

    def fused_matrix(self) -> np.ndarray:
        """n x n final scores (cohort-normalised per reference row when the calibration says so)."""
        fused = self.plain_matrix()
        cohort = self.cohort_matrix()
        if cohort is None:
            return fused
        mu, sd = cohort_stats(cohort, float(self.calibration.cohort["top_fraction"]))
        fused -= mu[:, None]
        fused /= sd[:, None]
        return fused


def template_trials(fused: np.ndarray, identities: np.ndarray, rows: np.ndarray, cohort_fused: np.ndarray | None = None,
                    top_fraction: float = 0.0, photos: int = 3, fusion: str = "mean"
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """Operational trials: templates of `photos` photos (mean of their scores, normalised once per
    template by its top-k cohort scores) against one probe photo.

    Genuine: every image of a person with more than `photos` images, against a template of their
    first `photos` other images. Impostor: each person's first-`photos` template against every
    image of other people. `fusion` combines a probe's scores against the references: "mean" or
    "max" (the cohort statistics are taken the same way). Returns (genuine, impostor, templates)."""
    combine = {"mean": np.mean, "max": np.max}[fusion]
    by_id: dict[str, list[int]] = {}
    for r in rows:
        by_id.setdefault(identities[r], []).append(int(r))

    def template(refs: list[int]) -> tuple[np.ndarray, float, float]:
        row = combine(fused[refs], axis=0)
        if cohort_fused is None:
            return row, 0.0, 1.0
        mu, sd = cohort_stats(combine(cohort_fused[refs], axis=0)[None], top_fraction)
        return row, float(mu[0]), float(sd[0])

    gen, imp = [], []
    for person, members in by_id.items():
        if len(members) > photos:
            for probe in members:
                row, mu, sd = template([r for r in members if r != probe][:photos])
                gen.append((row[probe] - mu) / sd)
        if len(members) >= photos:
            row, mu, sd = template(members[:photos])
            imp.append((row[rows[identities[rows] != person]] - mu) / sd)
    return np.array(gen, np.float32), (np.concatenate(imp) if imp else np.zeros(0, np.float32)), len(imp)
