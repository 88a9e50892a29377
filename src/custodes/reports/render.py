"""Markdown and the PNG chart for the reports (JSON is the figures as they are)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LABELS = {"fta": "failure to acquire (live)", "fnmr": "false non-match rate (live, from reviewers)",
          "audited_fmr": "same-group false match rate (live audit sample)"}
AUDIT_NOTE = ("A share of the check-ins the machine verified goes to reviewers as audit items, chosen by a keyed hash "
              "of the check-in's id alone (never by group). k = audit items closed as \"different person\" (two "
              "reviewers agreeing); n = audit items closed with a finding (\"unusable\" left out). The denominator "
              "is verified check-ins, not impostor comparisons: read it beside the evaluation's FMR.")


def _pct(r: dict[str, Any]) -> str:
    if not r["n"]:
        return "no data"
    lo, hi = r["ci95"]
    return f"{r['rate']:.2%} [{lo:.2%}, {hi:.2%}] ({r['k']}/{r['n']})"


def _cmp(c: dict[str, Any]) -> str:
    ratio = f"{c['max_min_ratio']:.2f}" if c["max_min_ratio"] is not None else f"undefined ({c['ratio_note']})"
    above = ", ".join(c["wholly_above_others"]) or "none"
    return f"max/min ratio {ratio}; interval wholly above the others: **{above}**"


def fairness_markdown(report: dict[str, Any], chart: str | None) -> str:
    w = report["window"]
    lines = ["# Fairness report", "",
             f"Window: {w['from'] or 'start'} to {w['to'] or 'now'}. Groups come from demographic records made "
             "with the person's consent; no decision reads them. Intervals are Wilson 95 %.", ""]
    if not report["live"]:
        lines += ["No consented demographic records: live per-group figures cannot be given.", ""]
    for attribute, metrics in report["live"].items():
        lines += [f"## Live: {attribute}", ""]
        for m, block in metrics.items():
            if m == "audited_fmr":
                continue  # shown beside the evaluation's, below
            lines += [f"### {LABELS[m]}", "", "| group | rate [95% CI] (k/n) |", "|---|---|"]
            lines += [f"| {g} | {_pct(r)} |" for g, r in sorted(block["groups"].items())]
            lines += ["", _cmp(block["comparison"]), ""]
    ev = report["evaluation"]
    lines += ["## Same-group false match rate", "", "### Live, from the audit sample", "", AUDIT_NOTE, ""]
    if not report["live"]:
        lines += ["No consented demographic records: no per-group audited FMR.", ""]
    for attribute, metrics in report["live"].items():
        block = metrics["audited_fmr"]
        lines += [f"#### {attribute}", "", "| group | audited FMR [95% CI] (k/n) |", "|---|---|"]
        lines += [f"| {g} | {_pct(r)} |" for g, r in sorted(block["groups"].items())]
        lines += ["", _cmp(block["comparison"]), ""]
    if ev is None:
        lines += ["### From an evaluation", "", "No evaluation given (`--faces-eval`).", ""]
    else:
        lines += [f"### From an evaluation ({ev['source']}; target FMR {ev['target_fmr']:g})", ""]
        for attribute, block in ev["attributes"].items():
            lines += [f"#### {attribute}", "",
                      "| group | same-group FMR [95% CI] | FNMR [95% CI] | threshold vs target |",
                      "|---|---|---|---|"]
            lines += [f"| {g} | {_pct(r['same_group_fmr'])} | {_pct(r['fnmr'])} | {r['threshold_meets_target']} |"
                      for g, r in sorted(block["groups"].items())]
            every = "yes" if block["threshold_meets_target_in_every_group"] else "**no**"
            lines += ["", f"Operating threshold meets the target inside every group: {every}. "
                      + _cmp(block["fmr_comparison"]), ""]
    if chart:
        lines += [f"![per-group rates]({chart})", ""]
    return "\n".join(lines)


def fairness_chart(report: dict[str, Any], path: Path) -> Path | None:
    panels = [(f"{LABELS[m]}: {a}", block["groups"]) for a, ms in report["live"].items() for m, block in ms.items()]
    if report["evaluation"]:
        panels += [(f"same-group FMR (evaluation): {a}", {g: r["same_group_fmr"] for g, r in b["groups"].items()})
                   for a, b in report["evaluation"]["attributes"].items()]
    panels = [(t, {g: r for g, r in rows.items() if r["n"]}) for t, rows in panels]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels) + 0.5), dpi=110, squeeze=False)
    for ax, (title, rows) in zip(axes[:, 0], panels, strict=True):
        names = sorted(rows)
        rates = [rows[g]["rate"] for g in names]
        err = [[rows[g]["rate"] - rows[g]["ci95"][0] for g in names],
               [rows[g]["ci95"][1] - rows[g]["rate"] for g in names]]
        ax.barh(names, rates, xerr=err, capsize=3, color="#4a78a8")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def dpia_markdown(r: dict[str, Any]) -> str:
    def block(title: str, data: Any) -> list[str]:
        return [f"## {title}", "", "```json", json.dumps(data, indent=2, default=str), "```", ""]

    p = r["proportionality"]
    lines = ["# DPIA evidence report", "", f"Generated {r['generated_at']}. Every figure is read from the records the "
             "system keeps as it works (orders, devices, grants, the audit log, receipts, check-ins, alerts).", "",
             "## Proportionality at a glance", "",
             f"- alerts per subject per day: **{p['alerts_per_subject_per_day']}** ({p['comparison']})",
             f"- share of resolved alerts with no breach: **{p['share_resolved_no_breach']}**; device fault: "
             f"**{p['share_resolved_device_fault']}**",
             f"- time to acknowledge (s): median {p['time_to_acknowledge_s']['median']}, "
             f"p90 {p['time_to_acknowledge_s']['p90']}", ""]
    for title, key in (("People monitored", "monitored"), ("Necessity records and reviews", "necessity_and_reviews"),
                       ("Police access", "police_access"), ("Trail reads by role and purpose", "trail_reads"),
                       ("Retention", "retention"), ("Check-ins and human review", "checkins"),
                       ("Representations and contests", "representations_and_contests"),
                       ("Compliance outcomes over time", "compliance_by_month"), ("Fairness summary", "fairness")):
        data = r[key] if key != "compliance_by_month" else p["compliance_by_month"]
        lines += block(title, data)
    return "\n".join(lines)
