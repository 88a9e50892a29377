"""The lever table of `eval faces --calibrate`, and each group's error rates on the development
test split with and without cohort normalisation (labels for evaluation only)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from custodes.biometrics.calibration import threshold_at_fmr


def lever_table(levers: list[dict]) -> Table:
    table = Table(title="Levers on LFW View 1 dev pairs: FNMR at FMR 1e-3 / 1e-4 (each split's own thresholds)")
    for col in ("lever", "setting", "train (choices made here)", "test (reported)", "kept"):
        table.add_column(col)
    for row in levers:
        res = row["result"]

        def cell(split):
            r = res.get(split) or {}
            return f"{r.get('1e-03', float('nan')):.2%} / {r.get('1e-04', float('nan')):.2%}"

        table.add_row(row["lever"], row["setting"], cell("train"), cell("test"), "yes" if row["kept"] else "")
    return table


def per_group_dev(tuner, extra: dict, labels_dir: Path, target: float = 1e-3) -> dict:
    """Per group on the dev test split, at that split's own global threshold for `target`."""
    from custodes.biometrics.fairness import load_labels, per_group

    if not labels_dir.exists():
        return {}
    labels = load_labels(labels_dir)
    idx = tuner.split["test"]
    out = {"setting": "single-photo, pairsDevTest images, threshold from all their cross-identity pairs",
           "target_fmr": target}
    for name, matrix in extra["test_scores"].items():
        thr = threshold_at_fmr(matrix[idx.imp_i, idx.imp_j], target)
        out[name] = per_group(tuner.emb.paths, labels, matrix, idx.gen_i, idx.gen_j, idx.imp_i, idx.imp_j, thr, target)
    return out
