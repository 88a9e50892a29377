"""Per-group error rates with Wilson 95 % intervals (race by identity, perceived gender by image).

Same-group FMR counts impostor pairs where both people carry the same label: the realistic
impostor for a check-in is someone of similar appearance. Groups too small for a claim are marked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custodes.biometrics.metrics import wilson

RACE_FILE = "lfw_race_by_identity.json"
GENDER_FILES = {"female": "lfw_female_images.txt", "male": "lfw_male_images.txt"}
_IMAGE_NAME = re.compile(r"^(?P<name>[A-Za-z][\w.'-]*?)_(?P<num>\d{4})\.jpg$")
# A claim about a group needs enough trials for the interval to mean something.
MIN_GENUINE_FOR_CLAIM = 100
MIN_EXPECTED_FALSE_MATCHES = 10


@dataclass
class Labels:
    race_by_identity: dict[str, str]
    gender_by_image: dict[str, str]
    malformed_lines: int
    conflicting_images: int


def load_labels(folder: Path) -> Labels:
    folder = Path(folder)
    race_raw = json.loads((folder / RACE_FILE).read_text())
    # Several comma-joined labels mean mixed or uncertain ancestry: keep them apart, not in either group.
    race = {name: (label if "," not in label else "multiple") for name, label in race_raw.items()}
    gender: dict[str, str] = {}
    malformed = conflicting = 0
    seen_twice: set[str] = set()
    for label, filename in GENDER_FILES.items():
        for line in (folder / filename).read_text().splitlines():
            line = line.strip()
            match = _IMAGE_NAME.match(line)
            if not match:
                malformed += bool(line)
                continue
            rel = f"{match['name']}/{line}"
            if rel in gender and gender[rel] != label:
                seen_twice.add(rel)
            gender[rel] = label
    for rel in seen_twice:
        conflicting += 1
        del gender[rel]
    return Labels(race, gender, malformed, conflicting)


def _group_rates(name: str, gen_scores, imp_scores, threshold: float, target_fmr: float) -> dict:
    g, i = np.asarray(gen_scores), np.asarray(imp_scores)
    misses, fms = int(np.sum(g < threshold)), int(np.sum(i >= threshold))
    fmr_ci = wilson(fms, len(i)) if len(i) else None
    fnmr_claim = "enough trials" if len(g) >= MIN_GENUINE_FOR_CLAIM else "too small for a claim"
    enough = len(i) * target_fmr >= MIN_EXPECTED_FALSE_MATCHES
    if fmr_ci and fmr_ci[0] > target_fmr:
        # Even the interval's lower end is above the target: that much is established, whatever the size.
        fmr_claim = "above target" if enough else "above target (small group, but the whole interval exceeds it)"
    elif not enough:
        fmr_claim = "too small for a claim"
    elif fmr_ci[1] <= target_fmr:
        fmr_claim = "within target"
    else:
        fmr_claim = "not distinguishable from target"
    return {
        "group": name,
        "genuine_pairs": len(g),
        "fnmr": misses / len(g) if len(g) else None,
        "fnmr_ci95": wilson(misses, len(g)) if len(g) else None,
        "same_group_impostor_pairs": len(i),
        "same_group_fmr": fms / len(i) if len(i) else None,
        "same_group_fmr_ci95": fmr_ci,
        "fnmr_claim": fnmr_claim,
        "fmr_claim": fmr_claim,
    }


# Not demographic groups: no claim is made about them, they are listed for completeness.
NOT_A_GROUP = {"unlabelled", "multiple"}


def per_group(
    paths: list[str], labels: Labels, fused: np.ndarray, gen_i, gen_j, imp_i, imp_j, threshold: float, target_fmr: float
) -> dict[str, list[dict]]:
    """Per-group FNMR (genuine pairs in the group) and same-group FMR (impostor pairs both in it)."""
    identities = [p.split("/")[0] for p in paths]
    race = np.array([labels.race_by_identity.get(n, "unlabelled") for n in identities])
    gender = np.array([labels.gender_by_image.get(p, "unlabelled") for p in paths])
    out: dict[str, list[dict]] = {}
    for attribute, lab in (("race", race), ("gender", gender)):
        # Integer codes: comparing label strings over tens of millions of pairs costs gigabytes.
        names, code = np.unique(lab, return_inverse=True)
        code = code.astype(np.int16)
        same_imp = code[imp_i] == code[imp_j]
        imp_code = code[imp_i]
        rows = []
        for k, group in enumerate(names.tolist()):
            g = (code[gen_i] == k) & (code[gen_j] == k)
            i = same_imp & (imp_code == k)
            row = _group_rates(group, fused[gen_i[g], gen_j[g]], fused[imp_i[i], imp_j[i]], threshold, target_fmr)
            if group in NOT_A_GROUP:
                row["fnmr_claim"] = row["fmr_claim"] = "not a group: no claim"
            rows.append(row)
        out[attribute] = rows
    return out
