"""`custodes eval challenge-frames`: what fusing the challenge frames into the decision changes.

Two questions, each on data nothing here was fitted on:
1. The passive score over the frames. NUAA sequences are cut into check-ins of 3 consecutive
   frames (the photo and two challenge frames); nested leave-one-subject-out as in `eval pad`:
   the model and every threshold come from the other subjects (thresholds from their own
   out-of-fold scores), then the held-out subject's check-ins are judged. Rules: the photo only;
   the mean logit over the frontal frames (the shipped rule, at the frame-level threshold); the
   same mean at a threshold chosen on check-ins; every frame must pass (the minimum logit, its
   threshold chosen on check-ins). APCER/BPCER per held-out subject, intervals clustered by
   recorded sequence.
2. Whether each challenge frame must verify against the enrolment. LFW View 1 development-train
   pairs, centred on 640x480 frames: the first photo is the check-in photo of the enrolled
   person (a template from it), the second is shown as the challenge frame. Different-person
   pairs are the "two unrelated press photos": before, the challenge alone judged them; after,
   the frame must also match the template. Same-person pairs give the cost: genuine frames
   refused. Thresholds are the shipped calibration's (fitted on these pairs: the false-match rate
   at them is the target by construction, so the figure shows the mechanism, not a new estimate).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from custodes.lab.pad.evaluation import clustered_interval, sequence_of
from custodes.lab.pad.training import (
    DEFAULT_C,
    PadDataset,
    equal_error_threshold,
    fit_linear,
    list_images,
    load_dataset,
    out_of_fold_logits,
)

FRAMES_PER_CHECK_IN = 3
FRONTAL_YAW = 0.2  # as `assessment.PASSIVE_MAX_ABS_YAW`
RULES = ("photo_only", "mean_frontal_frame_threshold", "mean_frontal_checkin_threshold", "every_frame")


def check_ins(data: PadDataset) -> list[np.ndarray]:
    """Row indices of each check-in: consecutive frames of one recorded sequence, 3 at a time."""
    runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, image in enumerate(data.images):
        _, _, frame = image.path.stem.rpartition("_")
        runs[sequence_of(image)].append((int(frame) if frame.isdigit() else 0, i))
    out = []
    for rows in runs.values():
        rows = [i for _, i in sorted(rows)]
        out += [np.array(rows[k:k + FRAMES_PER_CHECK_IN])
                for k in range(0, len(rows) - FRAMES_PER_CHECK_IN + 1, FRAMES_PER_CHECK_IN)]
    return out


def _fused(logits: np.ndarray, frontal: np.ndarray, rows: np.ndarray, how: str) -> float:
    if how == "photo":
        return float(logits[rows[0]])
    use = rows[frontal[rows]]
    if not len(use):
        return float("-inf")  # no frontal frame: the check-in cannot pass the passive check
    return float(logits[use].mean() if how == "mean" else logits[use].min())


def pad_fusion(data: PadDataset, c: float = DEFAULT_C, progress: bool = True) -> dict:
    frontal = np.array([abs(m.pose().yaw) <= FRONTAL_YAW for m in data.landmarks])
    groups = check_ins(data)
    subject_of = np.array([data.subjects[g[0]] for g in groups])
    live = np.array([bool(data.bona_fide[g[0]]) for g in groups])
    cluster = np.array([sequence_of(data.images[g[0]]) for g in groups])
    accepted = {rule: np.zeros(len(groups), dtype=bool) for rule in RULES}
    thresholds = defaultdict(dict)
    for subject in track(sorted(set(subject_of)), description="held-out subjects", disable=not progress,
                         transient=True):
        test_rows = data.subjects == subject
        inner = out_of_fold_logits(data, c, mask=~test_rows)
        model = fit_linear(data.features[~test_rows], data.bona_fide[~test_rows], c)
        logits = inner.copy()
        logits[test_rows] = model.logit(data.features[test_rows])
        frame_t = equal_error_threshold(inner[~test_rows], data.bona_fide[~test_rows])
        train_g = [k for k, s in enumerate(subject_of) if s != subject]
        test_g = [k for k, s in enumerate(subject_of) if s == subject]

        def scores(how, ks, lg=logits):
            return np.array([_fused(lg, frontal, groups[k], how) for k in ks])

        chosen = {
            "photo_only": ("photo", frame_t),
            "mean_frontal_frame_threshold": ("mean", frame_t),
            "mean_frontal_checkin_threshold": ("mean", equal_error_threshold(scores("mean", train_g), live[train_g])),
            "every_frame": ("min", equal_error_threshold(scores("min", train_g), live[train_g])),
        }
        for rule, (how, t) in chosen.items():
            accepted[rule][test_g] = scores(how, test_g) >= t
            thresholds[rule][subject] = round(float(t), 4)
    report = {"check_ins": {"bona_fide": int(live.sum()), "attack": int((~live).sum())},
              "frames_per_check_in": FRAMES_PER_CHECK_IN, "rules": {}}
    for rule in RULES:
        acc = accepted[rule]
        rows = []
        for subject in sorted(set(subject_of)):
            s = subject_of == subject
            rows.append(_rates(acc, live, cluster, s) | {"subject": subject, "threshold": thresholds[rule][subject]})
        pooled = _rates(acc, live, cluster, np.ones(len(groups), dtype=bool))
        report["rules"][rule] = pooled | {
            "max_subject_apcer": max(r["apcer"] for r in rows if r["apcer"] is not None),
            "max_subject_bpcer": max(r["bpcer"] for r in rows if r["bpcer"] is not None),
            "subjects": rows}
    return report


def _rates(accepted, live, cluster, mask) -> dict:
    a, b = mask & ~live, mask & live
    return {"attacks": int(a.sum()), "bona_fide": int(b.sum()),
            "apcer": round(float(accepted[a].mean()), 4) if a.any() else None,
            "apcer_ci95": clustered_interval(accepted[a], cluster[a]),
            "bpcer": round(float((~accepted[b]).mean()), 4) if b.any() else None,
            "bpcer_ci95": clustered_interval(~accepted[b], cluster[b])}


def eval_challenge_frames(data: Path | None = None, json_out: Path | None = None, limit: int = 400,
                          progress: bool = True) -> dict:
    """Body of `custodes eval challenge-frames`: both tables, then the JSON report on stdout."""
    import os

    from custodes.biometrics import get_engine
    from custodes.config import data_root
    from custodes.lab.faces.frame_identity import frame_trials

    data = Path(data) if data else data_root() / "pad" / "nuaa-dev"
    console = Console()
    dataset = load_dataset(list_images(data), progress=progress)
    report = {"data": str(data), "passive_over_frames": pad_fusion(dataset, progress=progress)}
    report["frames_verified_against_enrolment"] = frame_trials(
        get_engine(), data_root() / "faces" / "lfw-view1", limit=limit, progress=progress)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    _print(console, report)
    text = json.dumps(report, indent=2)
    print(text)
    if json_out:
        Path(json_out).write_text(text + "\n")
    return report


def _print(console: Console, report: dict) -> None:
    def rate(value, ci):
        return "-" if value is None else f"{value:.2%} [{ci[0]:.1%}, {ci[1]:.1%}]"

    fusion = report["passive_over_frames"]
    table = Table(title=f"Passive check over {FRAMES_PER_CHECK_IN}-frame check-ins, nested leave-one-subject-out "
                        "(models retrained per held-out subject)")
    for column in ("rule", "APCER [95% CI]", "BPCER [95% CI]", "worst subject APCER", "worst subject BPCER"):
        table.add_column(column)
    for rule, r in fusion["rules"].items():
        table.add_row(rule, rate(r["apcer"], r["apcer_ci95"]), rate(r["bpcer"], r["bpcer_ci95"]),
                      f"{r['max_subject_apcer']:.1%}", f"{r['max_subject_bpcer']:.1%}")
    console.print(table)
    frames = report["frames_verified_against_enrolment"]
    table = Table(title="Unrelated photo as the challenge frame (LFW different-person pairs)")
    for column in ("challenge", "accepted: challenge alone", "with frame match at FMR 1e-3", "at 1e-2"):
        table.add_column(column)
    for kind, r in frames["unrelated"].items():
        if isinstance(r, dict) and "challenge_alone" in r:
            table.add_row(kind, *(f"{r[k]['rate']:.2%} ({r[k]['count']}/{r[k]['of']})" for k in
                                  ("challenge_alone", "challenge_and_frame_match_at_fmr_0.001",
                                   "challenge_and_frame_match_at_fmr_0.01")))
    console.print(table)
    refused = frames["same_person"]["frame_refused"]
    console.print(f"Same person's photo as the frame, refused by the frame check: "
                  f"{refused['fmr_0.001']['rate']:.2%} at FMR 1e-3, {refused['fmr_0.01']['rate']:.2%} at 1e-2 "
                  f"({refused['fmr_0.001']['of']} pairs).")
