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
CACHE_KEY = {"dlib-resnet": "dlib", "faceres": "faceres"}


def vectors(emb: EmbeddedSet, model: str, flip: bool) -> np.ndarray:
    """Per-image vectors as the engine would compute them, with or without mirror averaging."""
    key = CACHE_KEY[model]
    plain = emb.matrix(key)
    if model == "faceres":
        plain = plain / np.linalg.norm(plain, axis=1, keepdims=True)
    if not flip:
        return plain
    flipped = emb.matrix(key + "_flip")
    if model == "faceres":
        flipped = flipped / np.linalg.norm(flipped, axis=1, keepdims=True)
        both = plain + flipped
        return both / np.linalg.norm(both, axis=1, keepdims=True)
    return (plain + flipped) / 2


def similarity_matrix(emb: EmbeddedSet, model: str, flip: str) -> np.ndarray:
    """n x n raw similarity, row = reference image, column = probe (dlib: -distance; FaceRes: cosine)."""
    t = vectors(emb, model, flip in ("both", "template")).astype(np.float32)
    p = vectors(emb, model, flip == "both").astype(np.float32)
    if model == "faceres":
        return t @ p.T
    d2 = np.sum(t * t, axis=1)[:, None] + np.sum(p * p, axis=1)[None, :] - 2 * (t @ p.T)
    return -np.sqrt(np.maximum(d2, 0))


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


def pair_index(emb: EmbeddedSet, pairs: list[Pair], subset: list[str] | None = None) -> PairIndex:
    """Index the listed pairs, and every cross-identity pair among `subset` (default: all images)."""
    li = np.array([emb.index[p.a] for p in pairs])
    lj = np.array([emb.index[p.b] for p in pairs])
    same = np.array([p.same for p in pairs])
    rows = np.array(sorted(emb.index[p] for p in (subset if subset is not None else emb.paths)))
    iu, ju = np.triu_indices(len(rows), 1)
    i, j = rows[iu], rows[ju]
    cross = emb.identities[i] != emb.identities[j]
    return PairIndex(li[same], lj[same], i[cross], j[cross], li, lj, same)


class Scorer:
    """Fused scores under a calibration (normalisation, weights, flip) for any pairs of one set."""

    def __init__(self, emb: EmbeddedSet, calibration: Calibration) -> None:
        self.calibration = calibration
        self.raw = {m.name: similarity_matrix(emb, m.name, m.flip) for m in calibration.models}

    def fused_matrix(self) -> np.ndarray:
        return self.calibration.fuse(self.raw).astype(np.float32)

    def __call__(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return self.calibration.fuse({n: m[i, j] for n, m in self.raw.items()})
