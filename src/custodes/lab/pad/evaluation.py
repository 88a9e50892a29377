"""`custodes eval pad`: APCER and BPCER (ISO/IEC 30107-3) on subjects the model never saw.

Nested leave-one-subject-out: for each held-out subject, the model is fitted on the others and
its threshold is chosen on their own leave-one-subject-out scores; only then is the held-out
subject scored. No threshold ever sees the subject it is judged on.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from custodes.biometrics.liveness.passive import (
    FeatureConfig,
    PadModel,
    load_pad_model,
    texture_features,
)
from custodes.lab.pad.training import (
    DEFAULT_C,
    THRESHOLD_RULE,
    PadDataset,
    equal_error_threshold,
    error_rates,
    fit_linear,
    list_images,
    load_dataset,
    out_of_fold_logits,
)

TARGET_APCER = 0.05
TARGET_BPCER = 0.05


def wilson(errors: int, total: int) -> list[float] | None:
    """Wilson 95% interval of a proportion (None for an empty set)."""
    if total == 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(errors, total).proportion_ci(confidence_level=0.95, method="wilson")
    return [round(float(ci.low), 4), round(float(ci.high), 4)]


def sequence_of(image) -> str:
    """The cluster an image belongs to: its subject, class and recorded sequence (NUAA file names
    are `<sequence>_<frame>.jpg`; frames of one sequence are not independent trials)."""
    prefix, _, frame = image.path.stem.rpartition("_")
    return f"{image.subject}/{'live' if image.bona_fide else 'attack'}/{prefix if frame.isdigit() else image.path.stem}"


def clustered_interval(errors: np.ndarray, clusters: np.ndarray) -> list[float] | None:
    """95 % interval of an error rate whose trials come in correlated clusters (sequences):
    a Wilson interval on the effective sample size n / deff, where the design effect deff is the
    ratio of the cluster-robust (ratio-estimator) variance to the binomial one. With no error or
    no success the variance cannot be estimated, so the worst case (deff = mean cluster size,
    i.e. one trial per cluster) is used."""
    errors = np.asarray(errors, dtype=float)
    if len(errors) == 0:
        return None
    from custodes.biometrics.metrics import wilson as wilson_ci

    names, inverse = np.unique(clusters, return_inverse=True)
    k, n, c = errors.sum(), len(errors), len(names)
    p = k / n
    sizes = np.bincount(inverse).astype(float)
    if 0 < p < 1 and c > 1:
        totals = np.bincount(inverse, weights=errors)
        var = c / (c - 1) * np.sum((totals - p * sizes) ** 2) / n**2
        deff = max(1.0, var / (p * (1 - p) / n))
    else:
        deff = float(sizes.mean())
    n_eff = n / deff
    lo, hi = wilson_ci(p * n_eff, n_eff) if n_eff > 0 else (float("nan"), float("nan"))
    return [round(float(lo), 4), round(float(hi), 4)]


def nested_evaluation(data: PadDataset, c: float = DEFAULT_C, progress: Progress | None = None) -> dict:
    """Held-out logits, accept decisions and per-subject figures for every subject in `data`."""
    subjects = sorted(set(data.subjects.tolist()))
    logits = np.full(len(data.bona_fide), np.nan)
    accepted = np.zeros(len(data.bona_fide), dtype=bool)
    rows = []
    task = progress.add_task("held-out subjects", total=len(subjects)) if progress else None
    for subject in subjects:
        test = data.subjects == subject
        train = ~test
        # The threshold comes from the training subjects' own out-of-fold scores.
        inner = out_of_fold_logits(data, c, mask=train)
        threshold = equal_error_threshold(inner[train], data.bona_fide[train])
        model = fit_linear(data.features[train], data.bona_fide[train], c)
        scored = data.features if data.tracked_features is None else data.tracked_features
        logits[test] = model.logit(scored[test])
        accepted[test] = logits[test] >= threshold
        rows.append(_subject_row(data, subject, accepted, threshold))
        if progress:
            progress.advance(task)
    return {"logits": logits, "accepted": accepted, "subjects": rows}


def fixed_model_evaluation(data: PadDataset, model: PadModel) -> dict:
    """Score every image with one trained model at its own threshold (no fitting, no tuning)."""
    logits = model.logit(data.features if data.tracked_features is None else data.tracked_features)
    accepted = logits >= model.threshold
    rows = [_subject_row(data, s, accepted, model.threshold) for s in sorted(set(data.subjects.tolist()))]
    return {"logits": logits, "accepted": accepted, "subjects": rows}


def _subject_row(data: PadDataset, subject: str, accepted: np.ndarray, threshold: float) -> dict:
    test = data.subjects == subject
    live, attack = test & data.bona_fide, test & ~data.bona_fide
    clusters = np.array([sequence_of(i) for i in data.images])
    return {
        "subject": subject,
        "bona_fide": int(live.sum()),
        "attacks": int(attack.sum()),
        "sequences": {"bona_fide": len(set(clusters[live])), "attack": len(set(clusters[attack]))},
        "threshold": round(threshold, 4),
        "apcer": round(float(accepted[attack].mean()), 4) if attack.any() else None,
        "apcer_ci95": clustered_interval(accepted[attack], clusters[attack]),
        "bpcer": round(float((~accepted[live]).mean()), 4) if live.any() else None,
        "bpcer_ci95": clustered_interval(~accepted[live], clusters[live]),
    }


def summarise(data: PadDataset, nested: dict) -> dict:
    live, attack = data.bona_fide, ~data.bona_fide
    accepted, logits = nested["accepted"], nested["logits"]
    apcer_errors, bpcer_errors = int(accepted[attack].sum()), int((~accepted[live]).sum())
    per_subject_apcer = [r["apcer"] for r in nested["subjects"] if r["apcer"] is not None]
    per_subject_bpcer = [r["bpcer"] for r in nested["subjects"] if r["bpcer"] is not None]
    # For comparison only: thresholds read off the pooled held-out scores themselves (optimistic).
    sorted_live = np.sort(logits[live])
    at_bpcer5 = sorted_live[int(np.floor(TARGET_BPCER * len(sorted_live)))]
    eer_t = equal_error_threshold(logits, live)
    clusters = np.array([sequence_of(i) for i in data.images])
    return {
        "apcer": round(apcer_errors / max(int(attack.sum()), 1), 4),
        "apcer_ci95": clustered_interval(accepted[attack], clusters[attack]),
        "bpcer": round(bpcer_errors / max(int(live.sum()), 1), 4),
        "bpcer_ci95": clustered_interval(~accepted[live], clusters[live]),
        "interval_method": "Wilson on the effective sample size (design effect of sequences: frames of one "
                           "recorded sequence are correlated, not independent trials)",
        "sequences": {"bona_fide": len(set(clusters[live])), "attack": len(set(clusters[attack]))},
        "frame_level_wilson_for_comparison": {"apcer": wilson(apcer_errors, int(attack.sum())),
                                              "bpcer": wilson(bpcer_errors, int(live.sum()))},
        "acer": round((apcer_errors / max(int(attack.sum()), 1) + bpcer_errors / max(int(live.sum()), 1)) / 2, 4),
        "max_subject_apcer": max(per_subject_apcer, default=None),
        "max_subject_bpcer": max(per_subject_bpcer, default=None),
        "mean_subject_apcer": round(float(np.mean(per_subject_apcer)), 4) if per_subject_apcer else None,
        "mean_subject_bpcer": round(float(np.mean(per_subject_bpcer)), 4) if per_subject_bpcer else None,
        "oracle": {
            "note": "threshold chosen on the held-out scores themselves; optimistic, for comparison only",
            "apcer_at_bpcer_5pct": round(error_rates(logits, live, float(at_bpcer5))[0], 4),
            "eer": round(max(error_rates(logits, live, eer_t)), 4),
        },
    }


def challenge_against_sequences(data: PadDataset) -> dict:
    """How often the landmark judge would accept NUAA's recorded sequences for each challenge.

    NUAA's attack sequences show printed photos held, moved, tilted and bent by hand, and its
    bona fide sequences show people told to sit still, so every acceptance here is the challenge
    alone being fooled (attacks) or satisfied by chance (bona fide). File names are
    `<sequence>_<frame>.jpg`; images not named so are left out.
    """
    from collections import defaultdict

    from custodes.biometrics.liveness.challenge import (
        DEFAULT_RULES,
        ChallengeKind,
        ChallengeRules,
        judge_challenge,
    )

    from custodes.biometrics.image_input import load_rgb
    from custodes.biometrics.sface_model import get_yunet

    yunet = get_yunet()
    sequences: dict[tuple[bool, str], list[tuple[int, object, object]]] = defaultdict(list)
    for image, marks in zip(data.images, data.landmarks, strict=True):
        prefix, _, frame = image.path.stem.rpartition("_")
        if prefix and frame.isdigit():
            rows = yunet.detect(load_rgb(image.path))
            points = rows[0][4:14].reshape(5, 2) if len(rows) else None
            sequences[(image.bona_fide, f"{image.subject}/{prefix}")].append((int(frame), marks, points))
    result = {}
    for bona_fide, label in ((False, "attack_sequences"), (True, "bona_fide_sequences_not_asked_to_move")):
        runs = [sorted(v, key=lambda t: t[0]) for (b, _), v in sequences.items() if b == bona_fide]
        runs = [([m for _, m, _ in r], [p for _, _, p in r]) for r in runs if len(r) >= 2]
        trials = len(runs) * len(ChallengeKind)
        result[label] = {"sequences": len(runs)}
        # Also without the face-size rule and without the depth cue, to show what each resists.
        variants = (("", DEFAULT_RULES), ("_without_size_rule", ChallengeRules(max_scale_change=float("inf"))),
                    ("_without_depth_cue", ChallengeRules(min_depth_change=float("-inf"))))
        for key, rules in variants:
            per_kind = {kind.value: sum(judge_challenge(kind, m, rules, points5=p).ok for m, p in runs)
                        for kind in ChallengeKind}
            result[label]["accepted_by_kind" + key] = per_kind
            result[label]["worst_kind_acceptance" + key] = (
                round(max(per_kind.values()) / len(runs), 4) if runs else None)
            result[label]["acceptance_random_challenge" + key] = (
                round(sum(per_kind.values()) / trials, 4) if trials else None)
    return result


def passive_latency_ms(data: PadDataset, config: FeatureConfig, repeats: int = 50) -> float:
    """Median time of the texture features for one face, given its box (scoring adds a dot product)."""
    from custodes.biometrics.dlib_model import DlibModels
    from custodes.biometrics.image_input import load_rgb

    rgb = load_rgb(data.images[0].path)
    box = DlibModels.load().detect(rgb)[0].box
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        texture_features(rgb, box, config)
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 2)


def eval_pad(data: Path | None = None, json_out: Path | None = None, progress: bool = True,
             model_path: Path | None = None, tracked: bool = False, mirror: bool = True) -> dict:
    """Body of `custodes eval pad`: the table, then the JSON report on stdout.

    Without `model_path`: nested leave-one-subject-out on `data`. With it: that trained model
    (e.g. the shipped one) scores `data` at its own threshold, for checks on subjects kept apart.
    With `tracked`, the scored (held-out) faces use the box `track_faces` finds, as in a check-in,
    while training and thresholds keep the whole-frame detector's box.
    """
    from custodes.config import data_root

    data = Path(data) if data else data_root() / "pad" / "nuaa-dev"
    console = Console()
    fixed = load_pad_model(model_path) if model_path else None
    config = fixed.features if fixed else FeatureConfig(mirror=mirror)
    dataset = load_dataset(list_images(data), config, progress=progress, tracked=tracked)
    from custodes.biometrics.liveness.passive import MODEL_PATH

    shipped = fixed is not None and Path(model_path).resolve() == MODEL_PATH.resolve()
    if fixed:
        nested = fixed_model_evaluation(dataset, fixed)
        seen = sorted(set(dataset.subjects.tolist()) & set(fixed.training.get("subjects", [])))
        protocol = (f"fixed model {fixed.version} at its threshold; subjects also in its training data: "
                    f"{seen or 'none'}")
    else:
        with Progress(console=console, disable=not progress, transient=True) as bar:
            nested = nested_evaluation(dataset, progress=bar)
        protocol = "nested leave-one-subject-out; " + THRESHOLD_RULE + " (inner folds only)"
    summary = summarise(dataset, nested)
    missed = dataset.not_acquired
    scored = (f"the {'shipped' if shipped else 'given'} model {fixed.version} ({model_path}), unchanged" if fixed else
              "NOT the shipped model: a model retrained for each held-out subject on the other subjects of this data")
    report = {
        "data": str(data),
        "scored": scored,
        "protocol": protocol,
        "features": config.as_dict(),
        "scored_boxes": "tracked (as in check-ins)" if tracked else "whole-frame detector",
        "classifier": fixed.training.get("classifier") if fixed else
        f"LogisticRegression(C={DEFAULT_C}, class_weight=balanced)",
        "bona_fide_images": int(dataset.bona_fide.sum()),
        "attack_images": int((~dataset.bona_fide).sum()),
        "attack_species": ["printed photo"],
        "not_acquired": {"bona_fide": sum(i.bona_fide for i in missed),
                         "attack": sum(not i.bona_fide for i in missed)},
        **summary,
        "targets": {"apcer": TARGET_APCER, "bpcer": TARGET_BPCER},
        "meets_target": summary["apcer"] <= TARGET_APCER and summary["bpcer"] <= TARGET_BPCER,
        "passive_ms_per_face": passive_latency_ms(dataset, config),
        "challenge_alone": challenge_against_sequences(dataset),
        "subjects": nested["subjects"],
    }
    title = ("shipped model" if shipped else "given model") if fixed else "models retrained per held-out subject"
    table = Table(title=f"Presentation-attack detection, {title} (ISO/IEC 30107-3)")
    for column in ("subject", "bona fide", "attacks", "threshold (logit)", "APCER [95% CI]", "BPCER [95% CI]"):
        table.add_column(column, justify="right")

    def rate(value, ci):
        return "-" if value is None else f"{value:.2%} [{ci[0]:.1%}, {ci[1]:.1%}]"

    for r in report["subjects"]:
        table.add_row(r["subject"], str(r["bona_fide"]), str(r["attacks"]), f"{r['threshold']:.3f}",
                      rate(r["apcer"], r["apcer_ci95"]), rate(r["bpcer"], r["bpcer_ci95"]))
    table.add_section()
    table.add_row("all", str(report["bona_fide_images"]), str(report["attack_images"]),
                  f"{fixed.threshold:.3f}" if fixed else "per fold",
                  f"{report['apcer']:.2%}", f"{report['bpcer']:.2%}")
    console.print(table)
    console.print(f"Scored: {scored}.")
    console.print(
        f"APCER {report['apcer']:.2%} (95% CI {report['apcer_ci95']}), BPCER {report['bpcer']:.2%} "
        f"(95% CI {report['bpcer_ci95']}); target <= {TARGET_APCER:.0%} / <= {TARGET_BPCER:.0%}: "
        f"{'met' if report['meets_target'] else 'NOT met'}. Not acquired (no face): {report['not_acquired']}. "
        f"Passive check {report['passive_ms_per_face']} ms per face."
    )
    attacks = report["challenge_alone"]["attack_sequences"]
    console.print(
        f"Challenge alone vs {attacks['sequences']} hand-held print sequences: accepted "
        f"{attacks['acceptance_random_challenge']:.1%} of random challenges {attacks['accepted_by_kind']}; "
        f"without the face-size rule {attacks['acceptance_random_challenge_without_size_rule']:.1%}, "
        f"without the depth cue {attacks['acceptance_random_challenge_without_depth_cue']:.1%} "
        f"{attacks['accepted_by_kind_without_depth_cue']}."
    )
    text = json.dumps(report, indent=2)
    print(text)
    if json_out:
        Path(json_out).write_text(text + "\n")
    return report
