"""LFW-format pairs files and the embeddings of the images they reference.

Pairs files: first line is the count (or "folds count"); then `Name i j` (same person) or
`NameA i NameB j` (different people), tab- or space-separated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from custodes.lab.faces.embedding_cache import (
    EmbeddingCache,
    ImageRecord,
    compute_record,
    refresh_quality,
)


@dataclass(frozen=True)
class Pair:
    a: str  # relative image path, e.g. "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    b: str
    same: bool
    # The benchmark fold, when the file defines folds (LFW pairs.txt: "10 300", then 10 sets of
    # 300 same + 300 different pairs); None for files without folds (View 1 development files).
    fold: int | None = None


def identity(rel: str) -> str:
    return rel.split("/")[0]


def image_path(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    pairs = []
    lines = Path(path).read_text().splitlines()
    header = lines[0].split() if lines else []
    per_fold = 2 * int(header[1]) if len(header) == 2 and all(h.isdigit() for h in header) else None
    for lineno, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if len(parts) == 3:
            fold = len(pairs) // per_fold if per_fold else None
            pairs.append(Pair(image_path(parts[0], parts[1]), image_path(parts[0], parts[2]), True, fold))
        elif len(parts) == 4:
            fold = len(pairs) // per_fold if per_fold else None
            pairs.append(Pair(image_path(parts[0], parts[1]), image_path(parts[2], parts[3]), False, fold))
        elif parts:
            raise ValueError(f"{path}:{lineno}: not an LFW pair line: {line!r}")
    if not pairs:
        raise ValueError(f"{path}: no pairs found")
    if per_fold and len(pairs) != per_fold * int(header[0]):
        raise ValueError(f"{path}: header promises {header[0]} folds of {per_fold} pairs, found {len(pairs)} pairs")
    return pairs


def images_of(pairs: Iterable[Pair]) -> list[str]:
    return sorted({p.a for p in pairs} | {p.b for p in pairs})


@dataclass
class EmbeddedSet:
    """Images in a fixed order with their records; `index` maps a relative path to its row."""

    paths: list[str]
    records: list[ImageRecord]

    def __post_init__(self) -> None:
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.identities = np.array([identity(p) for p in self.paths])

    def matrix(self, key: str) -> np.ndarray:
        return np.stack([r.vectors[key] for r in self.records]).astype(np.float32)

    @property
    def detected(self) -> np.ndarray:
        return np.array([r.detected for r in self.records])

    def gate_reasons(self, policy=None) -> list[str | None]:
        """The quality gate's verdict per image, re-judged from cached figures under `policy`."""
        from custodes.biometrics.quality import DEFAULT_POLICY, judge

        return [judge(r.figures, policy or DEFAULT_POLICY) for r in self.records]


def embed_images(images_dir: Path, rel_paths: list[str], *, console=None, part: tuple[int, int] | None = None,
                 with_dlib: bool = False) -> EmbeddedSet:
    """Embed every image (cached per image), with a progress bar.

    part=(k, n) embeds only every n-th image from the k-th (to fill the cache in n processes).
    with_dlib adds dlib's ResNet vectors (the engine no longer fuses them; kept for comparison)."""
    if part is not None:
        rel_paths = rel_paths[part[0]::part[1]]
    from custodes.biometrics.dlib_model import DlibModels
    from custodes.biometrics.faceres_model import FaceResModel
    from custodes.biometrics.image_input import load_rgb

    from custodes.biometrics.sface_model import SFaceModel, YuNet

    dlib_models, faceres, sface, yunet = DlibModels.load(), FaceResModel.load(), SFaceModel.load(), YuNet()
    versions = {"faceres": faceres.version, "sface": sface.version, "yunet": yunet.version}
    if with_dlib:
        versions["dlib"] = dlib_models.version
    cache = EmbeddingCache(versions)
    records: list[ImageRecord] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("embedding faces", total=len(rel_paths))
        for rel in rel_paths:
            path = Path(images_dir) / rel
            record = cache.get(path)
            if record is not None and record.faces and "other_face_ratio" not in record.figures:
                # Made before the gate recorded every figure it judges on: refresh the figures only.
                record = refresh_quality(record, load_rgb(path), dlib_models)
                cache.put(path, record)
            if record is None:
                if not path.exists():
                    raise FileNotFoundError(f"{path} is referenced by the pairs file but missing")
                record = compute_record(load_rgb(path), dlib_models, faceres, yunet, sface, skip_dlib=not with_dlib)
                cache.put(path, record)
            records.append(record)
            progress.advance(task)
    return EmbeddedSet(list(rel_paths), records)
