"""The fairness report's figures: per consented group, failure-to-acquire and FNMR from live
check-ins and reviewers' decisions, same-group FMR from the live audit sample and from evaluations,
each with a Wilson 95 % interval; the max/min ratio across groups; groups whose interval lies
wholly above the others.

Live FNMR: a check-in the machine did not verify but a reviewer judged "same person" is a false
non-match; the genuine attempts are those plus the check-ins the machine verified.

Live (audited) FMR: a share of verified check-ins goes to people as audit items
(`checkins/audit_sample.py`, chosen by a keyed hash of the prompt id alone, never by group). Of the
closed audit items a reviewer could judge (not "unusable"), those closed as "different person"
(two reviewers agreeing, as every adverse finding needs) are false matches. Within a group every
check-in claims that group's own enrolled face, so this is a same-group rate; its denominator is
verified check-ins, not impostor comparisons, so it is read beside an evaluation's FMR rather than
against the evaluation's target.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.biometrics.metrics import wilson
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.reports.models import DemographicRecord
from custodes.review.models import ADVERSE, ReviewDecisionKind, ReviewItem

UNLABELLED = "unlabelled"
# Shown, but not groups to compare or make a claim for: no label, or an evaluation pair whose people
# carry several labels (`custodes eval faces` reports them as "multiple").
NOT_GROUPS = (UNLABELLED, "multiple")
AUDIT_REASONS = ("audit_sample", "random_sample")  # the audit sample's reason, and the older inline sample's
METRICS = ("fta", "fnmr", "audited_fmr")


def rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n) if n else (None, None)
    return {"k": k, "n": n, "rate": k / n if n else None, "ci95": [lo, hi] if n else None}


def compare(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Across the groups of one attribute: the max/min ratio and any group wholly above the rest."""
    measured = {g: r for g, r in rows.items() if r["n"] and g not in NOT_GROUPS}
    rates = [r["rate"] for r in measured.values()]
    ratio = None
    if len(rates) >= 2 and min(rates) > 0:
        ratio = max(rates) / min(rates)
    above = [g for g, r in measured.items() if len(measured) >= 2
             and all(r["ci95"][0] > o["ci95"][1] for g2, o in measured.items() if g2 != g)]
    return {"groups_measured": len(measured), "max_min_ratio": ratio,
            "ratio_note": None if ratio is not None else ("a group has no observed errors" if len(rates) >= 2
                                                          else "fewer than two groups measured"),
            "wholly_above_others": above}


def _groups(session: Session) -> dict[uuid.UUID, dict[str, str]]:
    out: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for r in session.scalars(select(DemographicRecord)):
        out[r.subject_id][r.attribute] = r.value
    return out


def _in(col, t_from: datetime | None, t_to: datetime | None):
    conds = []
    if t_from is not None:
        conds.append(col >= t_from)
    if t_to is not None:
        conds.append(col < t_to)
    return conds


def live_counts(session: Session, t_from: datetime | None, t_to: datetime | None
                ) -> dict[str, dict[str, dict[str, list[int]]]]:
    """attribute -> group -> {metric: [k, n]} from check-ins and reviews in the window."""
    labels = _groups(session)
    attributes = sorted({a for v in labels.values() for a in v})
    counts: dict = {a: defaultdict(lambda: {m: [0, 0] for m in METRICS}) for a in attributes}

    def add(subject_id, metric, k):
        for a in attributes:
            cell = counts[a][labels.get(subject_id, {}).get(a, UNLABELLED)][metric]
            cell[0] += k
            cell[1] += 1

    for sid, fta in session.execute(select(CheckInAttempt.subject_id, CheckInAttempt.failure_to_acquire)
                                    .where(*_in(CheckInAttempt.submitted_at, t_from, t_to))):
        add(sid, "fta", int(bool(fta)))
    for (sid,) in session.execute(select(CheckInPrompt.subject_id).where(
            CheckInPrompt.outcome == "verified", *_in(CheckInPrompt.decided_at, t_from, t_to))):
        add(sid, "fnmr", 0)
    for (sid,) in session.execute(select(ReviewItem.subject_id).where(
            ReviewItem.outcome == "same_person", ReviewItem.machine_outcome != "verified",
            ReviewItem.score.is_not(None), *_in(ReviewItem.closed_at, t_from, t_to))):
        add(sid, "fnmr", 1)
    for sid, outcome in session.execute(select(ReviewItem.subject_id, ReviewItem.outcome).where(
            ReviewItem.reason.in_(AUDIT_REASONS), ReviewItem.status == "closed",
            ReviewItem.outcome != ReviewDecisionKind.UNUSABLE.value, *_in(ReviewItem.closed_at, t_from, t_to))):
        add(sid, "audited_fmr", int(outcome == ADVERSE.value))  # two reviewers agreed: a different person
    return {a: {g: dict(v) for g, v in groups.items()} for a, groups in counts.items()}


def from_evaluation(path: Path) -> dict[str, Any]:
    """Same-group FMR (and evaluation FNMR) per group from `custodes eval faces` output."""
    report = json.loads(Path(path).read_text())
    groups = report.get("per_group")
    if not groups:
        raise ValueError(f"{path}: no per_group section (run `custodes eval faces` with the group labels)")
    target = float(groups["target_fmr"])
    out: dict[str, Any] = {"target_fmr": target, "source": str(path), "attributes": {}}
    for attribute in ("race", "gender"):
        rows = {}
        for r in groups.get(attribute, []):
            n_imp, n_gen = int(r["same_group_impostor_pairs"]), int(r["genuine_pairs"])
            fmr = rate(round((r["same_group_fmr"] or 0) * n_imp), n_imp)
            lo_hi = fmr["ci95"]
            meets = None if lo_hi is None else ("within target" if lo_hi[1] <= target else
                                               "above target" if lo_hi[0] > target else "not distinguishable")
            rows[r["group"]] = {"same_group_fmr": fmr, "fnmr": rate(round((r["fnmr"] or 0) * n_gen), n_gen),
                                "threshold_meets_target": meets}
        if rows:
            out["attributes"][attribute] = rows
    return out


def build(session: Session, *, t_from: datetime | None, t_to: datetime | None,
          faces_eval: Path | None = None) -> dict[str, Any]:
    live = live_counts(session, t_from, t_to)
    report: dict[str, Any] = {"window": {"from": t_from.isoformat() if t_from else None,
                                         "to": t_to.isoformat() if t_to else None},
                              "live": {}, "evaluation": None}
    for attribute, groups in live.items():
        rows = {m: {g: rate(*c[m]) for g, c in groups.items()} for m in METRICS}
        report["live"][attribute] = {m: {"groups": rows[m], "comparison": compare(rows[m])} for m in rows}
    if faces_eval is not None:
        ev = from_evaluation(faces_eval)
        for attribute, rows in ev["attributes"].items():
            fmr_rows = {g: r["same_group_fmr"] for g, r in rows.items()}
            ev["attributes"][attribute] = {
                "groups": rows, "fmr_comparison": compare(fmr_rows),
                "threshold_meets_target_in_every_group": all(r["threshold_meets_target"] == "within target"
                                                             for g, r in rows.items() if g not in NOT_GROUPS)}
        report["evaluation"] = ev
    return report
