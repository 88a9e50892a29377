"""`custodes eval faces`: accuracy, FNMR at fixed FMR, failure to acquire, DET curve, per-group rates.

With `--calibrate` it first refits the shipped calibration on pairsDevTrain.txt (measuring every
lever) and writes `calibration.json`; the report then uses the new calibration.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from custodes.biometrics.calibration import SHIPPED, Calibration
from custodes.biometrics.metrics import (
    at_threshold,
    operating_point,
    plot_det,
    ten_fold_accuracy,
)
from custodes.config import data_root
from custodes.lab.faces.lfw import (
    EmbeddedSet,
    Pair,
    embed_images,
    images_of,
    read_pairs,
)
from custodes.lab.faces.scoring import Scorer, pair_index

console = Console()


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _ci(ci) -> str:
    return "-" if not ci else f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def _single(cal: Calibration, name: str) -> Calibration:
    m = next(m for m in cal.models if m.name == name)
    return Calibration(id=f"{name}-only", models=(m.__class__(m.name, m.version, m.impostor_mean, m.impostor_std, 1.0, m.flip),),
                       thresholds={})


def evaluate(emb: EmbeddedSet, pairs: list[Pair], cal: Calibration, labels_dir: Path | None, out: Path) -> dict:
    idx = pair_index(emb, pairs, images_of(pairs))
    scorer = Scorer(emb, cal)
    fused = scorer.fused_matrix()
    gen, imp = fused[idx.gen_i, idx.gen_j], fused[idx.imp_i, idx.imp_j]
    listed = fused[idx.listed_i, idx.listed_j]
    detected = emb.detected
    gate = Counter(r or "passed" for r in emb.gate_reasons())
    report: dict = {
        "engine": {"calibration": cal.id, "models": {m.name: m.version for m in cal.models},
                   "fusion": [{"model": m.name, "weight": m.weight, "flip": m.flip} for m in cal.models]},
        "images": len(emb.paths),
        "listed_pairs": {"genuine": int(idx.listed_same.sum()), "impostor": int((~idx.listed_same).sum())},
        "impostor_pairs_all_cross_identity": len(imp),
        "failure_to_acquire": {
            "detector": {"images": int((~detected).sum()), "rate": float((~detected).mean())},
            "quality_gate": {"images": int(len(emb.paths) - gate["passed"]), "rate": 1 - gate["passed"] / len(emb.paths),
                             "reasons": dict(gate)},
            "note": "evaluation scores every image (central face, or a fixed central box when HOG finds none); "
                    "a check-in would instead ask the person to try again",
        },
        "ten_fold_accuracy": ten_fold_accuracy(listed, idx.listed_same),
        "at_calibrated_thresholds": {k: at_threshold(gen, imp, thr) for k, thr in sorted(cal.thresholds.items())},
        "at_own_thresholds": {f"{t:.0e}": operating_point(gen, imp, t) for t in (1e-3, 1e-4)},
        "single_models_at_own_thresholds": {},
    }
    curves = {f"fusion ({cal.id})": (gen, imp)}
    if len(cal.models) > 1:
        for m in cal.models:
            single = Scorer.__new__(Scorer)
            single.calibration, single.raw = _single(cal, m.name), {m.name: scorer.raw[m.name]}
            matrix = single.fused_matrix()
            g1, i1 = matrix[idx.gen_i, idx.gen_j], matrix[idx.imp_i, idx.imp_j]
            report["single_models_at_own_thresholds"][m.name] = {
                f"{t:.0e}": operating_point(g1, i1, t) for t in (1e-3, 1e-4)}
            curves[m.name] = (g1, i1)
    report["det_curve_png"] = str(plot_det(curves, out / "det.png", f"DET, {len(gen)} genuine / {len(imp):,} impostor pairs"))
    if labels_dir is not None:
        from custodes.biometrics.fairness import load_labels, per_group

        labels = load_labels(labels_dir)
        target = cal.default_target_fmr
        report["per_group"] = {
            "threshold": cal.threshold(target), "target_fmr": target,
            "label_files": {"malformed_lines": labels.malformed_lines, "images_in_both_gender_lists": labels.conflicting_images},
            **per_group(emb.paths, labels, fused, idx.gen_i, idx.gen_j, idx.imp_i, idx.imp_j, cal.threshold(target), target),
        }
    return report


def print_report(report: dict) -> None:
    table = Table(title=f"Face verification ({report['engine']['calibration']})")
    for col in ("figure", "value"):
        table.add_column(col)
    acc = report["ten_fold_accuracy"]
    table.add_row("images / genuine / impostor pairs (all cross-identity)",
                  f"{report['images']} / {report['listed_pairs']['genuine']} / {report['impostor_pairs_all_cross_identity']:,}")
    table.add_row("10-fold accuracy (listed pairs)", f"{acc['mean']:.4f} ± {acc['std']:.4f}")
    fta = report["failure_to_acquire"]
    table.add_row("FTA detector / quality gate", f"{fta['detector']['rate']:.2%} / {fta['quality_gate']['rate']:.2%}")
    for key, row in report["at_calibrated_thresholds"].items():
        table.add_row(f"calibrated FMR {key}: thr, FNMR, realised FMR",
                      f"{row['threshold']:.3f}, {row['fnmr']:.2%} {_ci(row['fnmr_ci95'])}, {row['fmr']:.2e}")
    for key, row in report["at_own_thresholds"].items():
        table.add_row(f"own-threshold FMR {key}: thr, FNMR", f"{row['threshold']:.3f}, {row['fnmr']:.2%} {_ci(row['fnmr_ci95'])}")
    for name, rows in report["single_models_at_own_thresholds"].items():
        table.add_row(f"{name} alone: FNMR @1e-3 / @1e-4", f"{rows['1e-03']['fnmr']:.2%} / {rows['1e-04']['fnmr']:.2%}")
    console.print(table)
    groups = report.get("per_group")
    if groups:
        gt = Table(title=f"Per group at the calibrated threshold for FMR {groups['target_fmr']:g}")
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
    pairs: list[Path] = typer.Option(None, help="LFW-format pairs file; repeat for several (default: both dev files)"),
    labels: Path = typer.Option(None, help="folder with race/gender label files (default: data folder's faces/labels)"),
    out: Path = typer.Option(Path("out/faces"), help="folder for the JSON report and DET curve"),
    calibrate: bool = typer.Option(False, help="refit the shipped calibration on pairsDevTrain.txt first"),
    no_labels: bool = typer.Option(False, help="skip the per-group report"),
) -> None:
    """Evaluate 1:1 face verification on LFW-format pairs (and optionally refit the calibration)."""
    lfw = data_root() / "faces" / "lfw-view1"
    images = images or lfw / "images"
    pair_files = pairs or [lfw / "pairsDevTrain.txt", lfw / "pairsDevTest.txt"]
    labels = None if no_labels else (labels or data_root() / "faces" / "labels")
    for path in [images, *pair_files, *([labels] if labels else [])]:
        if not path.exists():
            _fail(f"{path} does not exist")
    try:
        all_pairs = [p for f in pair_files for p in read_pairs(f)]
    except ValueError as exc:
        _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    cal = Calibration.load()
    if calibrate:
        cal = _calibrate(images, lfw, out)
    try:
        emb = embed_images(images, images_of(all_pairs), console=console)
    except FileNotFoundError as exc:
        _fail(str(exc))
    report = evaluate(emb, all_pairs, cal, labels, out)
    report["pairs_files"] = [str(f) for f in pair_files]
    print_report(report)
    (out / "faces-eval.json").write_text(json.dumps(report, indent=2, default=float))
    console.print_json(json.dumps(report, default=float))
    console.print(f"written {out / 'faces-eval.json'} and {report['det_curve_png']}")


def _calibrate(images: Path, lfw: Path, out: Path) -> Calibration:
    from custodes.lab.faces.tuning import Tuner, fit

    train, test = read_pairs(lfw / "pairsDevTrain.txt"), read_pairs(lfw / "pairsDevTest.txt")
    emb = embed_images(images, images_of(train + test), console=console)
    versions = {"dlib-resnet": _versions()["dlib-resnet"], "faceres": _versions()["faceres"]}
    cal, levers = fit(Tuner(emb, train, test, versions))
    cal = Calibration(**{**cal.__dict__, "data": {
        "fitted_on": "LFW View 1 pairsDevTrain.txt: 1,100 genuine pairs; every cross-identity pair of its images",
        "command": "custodes eval faces --calibrate"}, "figures": {"levers": levers}})
    cal.save(SHIPPED)
    (out / "levers.json").write_text(json.dumps(levers, indent=2, default=float))
    table = Table(title="Levers: FNMR at FMR 1e-3 / 1e-4 (thresholds from each split's own impostors)")
    for col in ("lever", "train", "test", "in engine / helps on train"):
        table.add_column(col)
    for row in levers:
        res = row["result"]

        def cell(split):
            r = res.get(split) or {}
            if "multi_reference" in r:
                s, m = r["single_reference"], r["multi_reference"]
                return f"single {s['1e-03']:.2%}/{s['1e-04']:.2%} -> multi {m['1e-03']:.2%}/{m['1e-04']:.2%}"
            return f"{r.get('1e-03', float('nan')):.2%} / {r.get('1e-04', float('nan')):.2%}"

        verdict = "in engine" if row["kept"] else ""
        if "helps_on_train" in row:
            verdict = "helps on train" if row["helps_on_train"] else "no gain on train"
        table.add_row(row["lever"], cell("train"), cell("test"), verdict)
    console.print(table)
    console.print(f"calibration {cal.id} written to {SHIPPED}")
    return cal


def _versions() -> dict[str, str]:
    from custodes.biometrics.dlib_model import DlibModels
    from custodes.biometrics.faceres_model import FaceResModel

    return {"dlib-resnet": DlibModels.load().version, "faceres": FaceResModel.load().version}
