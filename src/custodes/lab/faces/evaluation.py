"""`custodes eval faces`: FNMR at fixed FMR, LFW folds, failure to acquire, DET curves, per-group rates.

Two settings are reported apart: single-photo pairs (the pairs file's own pairs and every
cross-identity pair of its images) and the operational setting (a template of 3 enrolment photos
against one probe photo). `--calibrate PATH` refits a calibration on pairsDevTrain.txt and writes
it (and its cohort) to PATH; the shipped calibration is never written by this command.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from custodes.biometrics.calibration import SHIPPED, Calibration
from custodes.biometrics.metrics import at_threshold, operating_point, plot_det, ten_fold_accuracy
from custodes.config import data_root
from custodes.lab.faces.lfw import EmbeddedSet, Pair, embed_images, images_of, read_pairs
from custodes.lab.faces.scoring import Scorer, cohort_stats, fuse, pair_index, template_trials

console = Console()


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _ci(ci) -> str:
    return "-" if not ci else f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def identity_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _scores(emb: EmbeddedSet, cal: Calibration, cohort_base: Path | None):
    """(scorer, plain fused n x n, cohort scores n x m or None, final scores n x n)."""
    from custodes.biometrics.cohort import cohort_file, load_cohort

    cohort = load_cohort(cal, cohort_base) if cal.cohort else None
    scorer = Scorer(emb, cal, cohort)
    plain = scorer.plain_matrix()
    cohort_scores = scorer.cohort_matrix()
    if cohort_scores is None:
        return scorer, plain, None, plain
    with np.load(cohort_file(cal, cohort_base), allow_pickle=False) as z:
        cohort_ids = z["identity_sha256"].astype(str)
    # Cohort faces of anyone in the evaluated set are dropped: a template normalised against the
    # very impostors it is then compared with would report an optimistic FMR.
    present = np.isin(cohort_ids, np.array([identity_hash(i) for i in set(emb.identities.tolist())]))
    keep = ~present
    if keep.sum() < 100:
        raise ValueError(f"the cohort {cal.cohort['id']} shares its people with these pairs ({int(present.sum())} of "
                         f"{len(present)} cohort faces): evaluate on other people, or read the development figures "
                         "from `--calibrate`'s lever table (which uses the other split as cohort)")
    cohort_scores = np.ascontiguousarray(cohort_scores[:, keep])
    scorer.cohort_used = {"cohort_faces": int(len(keep)), "left_out_as_people_of_these_pairs": int(present.sum())}
    mu, sd = cohort_stats(cohort_scores, float(cal.cohort["top_fraction"]))
    return scorer, plain, cohort_scores, (plain - mu[:, None]) / sd[:, None]


def evaluate(emb: EmbeddedSet, pairs: list[Pair], cal: Calibration, labels_dir: Path | None, out: Path,
             cohort_base: Path | None = None) -> dict:
    idx = pair_index(emb, pairs, images_of(pairs))
    scorer, plain, cohort_scores, fused = _scores(emb, cal, cohort_base)
    gen, imp = fused[idx.gen_i, idx.gen_j], fused[idx.imp_i, idx.imp_j]
    listed = fused[idx.listed_i, idx.listed_j]
    gate = Counter(r or "passed" for r in emb.gate_reasons())
    found = np.array([len(r.vectors.get("yunet", ())) > 0 for r in emb.records])
    report: dict = {
        "engine": {"calibration": cal.id, "models": {m.name: m.version for m in cal.models},
                   "fusion": [{"model": m.name, "weight": m.weight, "flip": m.flip} for m in cal.models],
                   "cohort": ({**cal.cohort, **getattr(scorer, "cohort_used", {})}) or None},
        "images": len(emb.paths),
        "listed_pairs": {"genuine": int(idx.listed_same.sum()), "impostor": int((~idx.listed_same).sum())},
        "failure_to_acquire": {
            "hog_detector": {"images": int((~emb.detected).sum()), "rate": float((~emb.detected).mean())},
            "yunet_detector": {"images": int((~found).sum()), "rate": float((~found).mean())},
            "quality_gate": {"images": int(len(emb.paths) - gate["passed"]), "rate": 1 - gate["passed"] / len(emb.paths),
                             "reasons": dict(gate)},
            "note": "evaluation scores every image (central face, or a fixed central box when no face is found); "
                    "a check-in would instead ask the person to try again",
        },
    }
    single = {
        "setting": "single-photo: one reference photo, one probe photo",
        "impostor_pairs_all_cross_identity": len(imp),
        "lfw_ten_fold_accuracy": ten_fold_accuracy(listed, idx.listed_same, idx.listed_folds)
        or "not applicable: this pairs file defines no folds (LFW pairs.txt does)",
        "at_calibrated_thresholds": {k: at_threshold(gen, imp, thr) for k, thr in sorted(cal.thresholds.items())},
        "at_own_thresholds": {f"{t:.0e}": operating_point(gen, imp, t) for t in (1e-3, 1e-4)},
        "single_models_at_own_thresholds": {},
    }
    report["single_photo"] = single
    curves = {f"single-photo ({cal.id})": (gen, imp)}
    if len(cal.models) > 1:
        for m in cal.models:
            alone = Calibration(id=f"{m.name}-only", models=(m.__class__(m.name, m.version, m.impostor_mean,
                                m.impostor_std, 1.0, m.flip),), thresholds={})
            matrix = fuse(alone, scorer.raw)
            g1, i1 = matrix[idx.gen_i, idx.gen_j], matrix[idx.imp_i, idx.imp_j]
            single["single_models_at_own_thresholds"][m.name] = {
                f"{t:.0e}": operating_point(g1, i1, t) for t in (1e-3, 1e-4)}
            curves[f"{m.name} alone"] = (g1, i1)
            del matrix
    rows = np.array(sorted(emb.index[p] for p in images_of(pairs)))
    og, oi, templates = template_trials(plain, emb.identities, rows, cohort_scores,
                                         float(cal.cohort.get("top_fraction", 0)))
    report["operational"] = {
        "setting": "operational: a template of 3 enrolment photos (mean score, normalised once per template) "
                   "against one probe photo; challenge frames as extra probes are not simulated (LFW has stills only)",
        "templates": templates, "genuine": len(og), "impostor": len(oi),
        "at_calibrated_thresholds": {k: at_threshold(og, oi, thr) for k, thr in sorted(cal.thresholds.items())}
        if len(og) else {},
        "at_own_thresholds": {f"{t:.0e}": operating_point(og, oi, t) for t in (1e-3, 1e-4)} if len(og) else {},
    }
    if len(og):
        curves["operational, 3 enrolment photos"] = (og, oi)
    report["det_curve_png"] = str(plot_det(curves, out / "det.png", f"DET, {len(gen)} genuine / {len(imp):,} impostor pairs"))
    if labels_dir is not None:
        from custodes.biometrics.fairness import load_labels, per_group

        labels = load_labels(labels_dir)
        target = cal.default_target_fmr
        report["per_group"] = {
            "setting": "single-photo", "threshold": cal.threshold(target), "target_fmr": target,
            "label_use": "labels are read for this evaluation only; no decision uses them",
            "label_files": {"malformed_lines": labels.malformed_lines, "images_in_both_gender_lists": labels.conflicting_images},
            **per_group(emb.paths, labels, fused, idx.gen_i, idx.gen_j, idx.imp_i, idx.imp_j, cal.threshold(target), target),
        }
    return report


def print_report(report: dict) -> None:
    table = Table(title=f"Face verification ({report['engine']['calibration']})")
    for col in ("setting", "figure", "value"):
        table.add_column(col)
    single, op = report["single_photo"], report["operational"]
    table.add_row("single-photo", "images / genuine / impostor pairs (all cross-identity)",
                  f"{report['images']} / {report['listed_pairs']['genuine']} / {single['impostor_pairs_all_cross_identity']:,}")
    acc = single["lfw_ten_fold_accuracy"]
    table.add_row("single-photo", "LFW 10-fold accuracy (the file's folds)",
                  f"{acc['mean']:.4f} ± {acc['std']:.4f}" if isinstance(acc, dict) else acc)
    fta = report["failure_to_acquire"]
    table.add_row("", "FTA HOG / YuNet / quality gate", f"{fta['hog_detector']['rate']:.2%} / "
                  f"{fta['yunet_detector']['rate']:.2%} / {fta['quality_gate']['rate']:.2%}")
    for label, part in (("single-photo", single), ("operational (3 photos)", op)):
        for key, row in part["at_calibrated_thresholds"].items():
            table.add_row(label, f"calibrated FMR {key}: thr, FNMR, realised FMR",
                          f"{row['threshold']:.3f}, {row['fnmr']:.2%} {_ci(row['fnmr_ci95'])}, {row['fmr']:.2e}")
        for key, row in part["at_own_thresholds"].items():
            table.add_row(label, f"own-threshold FMR {key}: FNMR", f"{row['fnmr']:.2%} {_ci(row['fnmr_ci95'])}")
    table.add_row("operational (3 photos)", "templates / genuine / impostor trials",
                  f"{op['templates']} / {op['genuine']} / {op['impostor']:,}")
    for name, rows in single["single_models_at_own_thresholds"].items():
        table.add_row("single-photo", f"{name} alone: FNMR @1e-3 / @1e-4", f"{rows['1e-03']['fnmr']:.2%} / {rows['1e-04']['fnmr']:.2%}")
    console.print(table)
    groups = report.get("per_group")
    if groups:
        gt = Table(title=f"Single-photo, per group at the calibrated threshold for FMR {groups['target_fmr']:g}")
        for col in ("attribute", "group", "genuine", "FNMR [95% CI]", "same-group impostors", "same-group FMR [95% CI]",
                    "FNMR claim", "FMR claim"):
            gt.add_column(col)
        for attribute in ("race", "gender"):
            for r in groups[attribute]:
                gt.add_row(attribute, r["group"], str(r["genuine_pairs"]), f"{_fmt(r['fnmr'], 3)} {_ci(r['fnmr_ci95'])}",
                           f"{r['same_group_impostor_pairs']:,}", f"{_fmt(r['same_group_fmr'], 3)} {_ci(r['same_group_fmr_ci95'])}",
                           r["fnmr_claim"], r["fmr_claim"])
        console.print(gt)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def eval_faces(
    images: Path = typer.Option(None, help="folder of <Name>/<Name>_NNNN.jpg (default: LFW View 1 in the data folder)"),
    pairs: list[Path] = typer.Option(None, help="LFW-format pairs file; repeat for several (default: pairsDevTest.txt)"),
    labels: Path = typer.Option(None, help="folder with race/gender label files (default: data folder's faces/labels)"),
    out: Path = typer.Option(Path("out/faces"), help="folder for the DET curve (and levers.json with --calibrate)"),
    json_out: Path = typer.Option(None, "--json", help="write the JSON report here (default: OUT/faces-eval.json)"),
    calibration: Path = typer.Option(None, help="calibration file to evaluate (default: the shipped one)"),
    calibrate: Path = typer.Option(None, help="refit a calibration on pairsDevTrain.txt, write it (and its cohort "
                                   "file) to this path and evaluate it; the shipped file is never written"),
    no_labels: bool = typer.Option(False, help="skip the per-group report"),
) -> None:
    """Evaluate 1:1 face verification on LFW-format pairs, single-photo and operational (3 enrolment photos)."""
    lfw = data_root() / "faces" / "lfw-view1"
    images = images or lfw / "images"
    pair_files = pairs or [lfw / "pairsDevTest.txt"]
    labels = None if no_labels else (labels or data_root() / "faces" / "labels")
    for path in [images, *pair_files, *([labels] if labels else []), *([calibration] if calibration else [])]:
        if not path.exists():
            _fail(f"{path} does not exist")
    if calibrate is not None and calibrate.resolve() == SHIPPED.resolve():
        _fail(f"--calibrate would overwrite the shipped calibration {SHIPPED}: name another path")
    try:
        all_pairs = [p for f in pair_files for p in read_pairs(f)]
    except ValueError as exc:
        _fail(str(exc))
    if len(pair_files) > 1:  # folds are per file; several files together have no benchmark folds
        all_pairs = [Pair(p.a, p.b, p.same) for p in all_pairs]
    out.mkdir(parents=True, exist_ok=True)
    try:
        cal = Calibration.load(calibration) if calibration else Calibration.load()
        if calibrate is not None:
            cal = _calibrate(images, lfw, calibrate, out)
        cohort_base = (calibrate or calibration or SHIPPED).parent
        emb = embed_images(images, images_of(all_pairs), console=console, with_dlib="dlib-resnet" in cal.model_names)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    try:
        report = evaluate(emb, all_pairs, cal, labels, out, cohort_base)
    except ValueError as exc:
        if calibrate is None:
            _fail(str(exc))
        console.print(f"calibration written; no report on these pairs: {exc}")
        return
    report["pairs_files"] = [str(f) for f in pair_files]
    report["calibration_file"] = str(calibrate or calibration or SHIPPED)
    print_report(report)
    target = json_out or out / "faces-eval.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, default=float))
    console.print(f"written {target} and {report['det_curve_png']}")


def _calibrate(images: Path, lfw: Path, path: Path, out: Path) -> Calibration:
    from custodes.biometrics.cohort import save_cohort
    from custodes.lab.faces.levers import lever_table, per_group_dev
    from custodes.lab.faces.scoring import vectors
    from custodes.lab.faces.tuning import Tuner, fit

    train, test = read_pairs(lfw / "pairsDevTrain.txt"), read_pairs(lfw / "pairsDevTest.txt")
    emb = embed_images(images, images_of(train + test), console=console)
    versions = _versions()
    test_images = images_of(test)
    cohort_name = path.with_suffix(".cohort.npz").name
    meta = {"file": cohort_name, "id": f"lfw-view1-devtest-{len(test_images)}",
            "source": f"LFW View 1 pairsDevTest.txt images: {len(test_images)} photos of "
                      f"{len({p.split('/')[0] for p in test_images})} public figures (people disjoint from pairsDevTrain)",
            "licence": "LFW research benchmark (no formal licence; the authors say it is not meant to vet "
                       "commercial systems); kept as embeddings only, never images"}
    tuner = Tuner(emb, train, test, versions)
    cal, levers, extra = fit(tuner, meta, data_root() / "faces" / "labels")
    cal = Calibration(**{**cal.__dict__, "data": {
        "fitted_on": "LFW View 1 pairsDevTrain.txt: 1,100 genuine pairs; every cross-identity pair of its images; "
                     "cohort: the pairsDevTest images (disjoint people)",
        "command": f"custodes eval faces --calibrate {path}"}, "figures": {"levers": levers}})
    path.parent.mkdir(parents=True, exist_ok=True)
    cal.save(path)
    rows = np.array([emb.index[p] for p in test_images])
    save_cohort(path.parent / cohort_name,
                {m.name: vectors(emb, m.name, m.flip == "both")[rows] for m in cal.models},
                np.array([identity_hash(emb.identities[r]) for r in rows]))
    groups = per_group_dev(tuner, extra, data_root() / "faces" / "labels")
    (out / "levers.json").write_text(json.dumps({"levers": levers, "per_group_dev_test": groups}, indent=2, default=float))
    console.print(lever_table(levers))
    console.print(f"calibration {cal.id} written to {path} (cohort {path.parent / cohort_name})")
    return cal


def _versions() -> dict[str, str]:
    from custodes.biometrics.faceres_model import FaceResModel
    from custodes.biometrics.sface_model import SFaceModel

    return {"faceres": FaceResModel.load().version, "sface": SFaceModel.load().version}
