"""Real faces for check-in answers: LFW people with at least four photos (three to enrol, one or more
to answer as themselves), other people's photos for impostors, NUAA printed-photo attacks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from custodes.biometrics.image_input import encode_jpeg, load_rgb, pad_to


class FaceBank:
    def __init__(self, data: Path) -> None:
        images = data / "faces" / "lfw-view1" / "images"
        self.people = sorted(
            (d for d in images.iterdir() if d.is_dir() and len(list(d.glob("*.jpg"))) >= 4),
            key=lambda d: d.name) if images.is_dir() else []
        attacks = data / "pad" / "nuaa-dev" / "ImposterRaw"
        self.attacks = sorted(attacks.glob("*/*.jpg")) if attacks.is_dir() else []

    def __bool__(self) -> bool:
        return bool(self.people)

    def identity(self, i: int) -> list[Path]:
        return sorted(self.people[i % len(self.people)].glob("*.jpg"))

    def genuine(self, i: int, enrolled: list[Path], rng: np.random.Generator) -> list[bytes]:
        """A photo not used at enrolment and a second one as the challenge frame (LFW holds no
        recorded head turns)."""
        rest = [p for p in self.identity(i) if p not in enrolled] or self.identity(i)
        pick = rng.choice(len(rest), size=2, replace=len(rest) < 2)
        return [jpeg(rest[int(k)]) for k in pick]

    def impostor(self, i: int, rng: np.random.Generator) -> list[bytes]:
        other = int(rng.integers(len(self.people)))
        if other % len(self.people) == i % len(self.people):
            other += 1
        photos = self.identity(other)
        return [jpeg(photos[0]), jpeg(photos[1])]

    def attack(self, rng: np.random.Generator) -> list[bytes]:
        if not self.attacks:
            return []
        k = int(rng.integers(len(self.attacks) - 1))
        return [raw(self.attacks[k]), raw(self.attacks[k + 1])]


@lru_cache(maxsize=4096)
def jpeg(path: Path) -> bytes:
    return encode_jpeg(pad_to(load_rgb(path)))


@lru_cache(maxsize=1024)
def raw(path: Path) -> bytes:
    return path.read_bytes()
