"""The simulator's verdict: the alerts it planted (its own ground truth) against those the platform
raised, matched by person, kind and time; every planted alert missed, and every alert nobody planted
with the simulator's best reason for it, from what it knows it did."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
from rich.console import Console
from rich.table import Table

from custodes.lab.field import plan as planning
from custodes.lab.field.device import SimDevice
from custodes.lab.field.throughput import describe

TICK_REAL_S = 30.0  # the platform's scheduled-check period (runner default), in real seconds


def compare(platform, devices: list[SimDevice], checkins, speed: float, t_end: float) -> dict:
    """Planted against raised. A planted alert counts as raised when one of its kind was raised for
    the person within max(20 minutes, three tick periods) of the planted time."""
    tol = max(1200.0, 3 * TICK_REAL_S * speed)
    missed_by_subject: dict[str, list[float]] = {}
    for sid, deadline in checkins.expected_missed:
        missed_by_subject.setdefault(sid, []).append(deadline)
    rows: dict[str, Counter] = {}
    missed, extra = [], []
    after_end: Counter[str] = Counter()
    for d in devices:
        raised = platform.alerts(d.subject_id)
        expected = list(d.plan.expected) + [("check_in_missed", x) for x in missed_by_subject.get(d.subject_id, [])]
        used = set()
        for kind, t in expected:
            if t > t_end:
                continue
            row = rows.setdefault(kind, Counter())
            row["planted"] += 1
            # The nearest unused alert of the kind, not the first: with several visits an hour apart
            # the first within tolerance can be the neighbour's (seen: 2 false misses in 150 people).
            near = [(abs(_at(a) - t), k) for k, a in enumerate(raised)
                    if k not in used and a["kind"] == kind and abs(_at(a) - t) <= tol]
            hit = min(near)[1] if near else None
            if hit is None:
                row["missed"] += 1
                missed.append({"subject_id": d.subject_id, "kind": kind, "at": _iso(t)})
            else:
                used.add(hit)
                row["raised"] += 1
        for k, a in enumerate(raised):
            if k in used:
                continue
            if _at(a) > t_end:  # after the last upload every device falls silent: not part of the day
                after_end[a["kind"]] += 1
                continue
            rows.setdefault(a["kind"], Counter())["extra"] += 1
            row = {"subject_id": d.subject_id, "kind": a["kind"], "at": a["occurred_at"],
                   "reason": reason(d, a, checkins.outcomes)}
            if a["kind"] == "device_silent":  # what `silence_evidence` needs to check it in the database
                row.update(device_id=d.device_id, raised_at=a.get("raised_at"),
                           last_seen=(a.get("evidence") or {}).get("last_seen"))
            extra.append(row)
    by_kind = {k: {"planted": v["planted"], "raised": v["raised"], "missed": v["missed"], "extra": v["extra"]}
               for k, v in sorted(rows.items())}
    return {"by_kind": by_kind, "missed": missed, "extra": extra, "after_end": dict(after_end),
            "planted_kinds_never_raised": sorted(k for k, v in by_kind.items() if v["planted"] and not v["raised"]),
            "extra_by_reason": by_reason(extra), "match_tolerance_s": tol}


def by_reason(extra: list[dict]) -> list[dict]:
    return [{"kind": k, "reason": r, "count": n}
            for (k, r), n in Counter((e["kind"], e["reason"]) for e in extra).most_common()]


def reason(d: SimDevice, alert: dict, outcomes: dict[str, str] | None = None) -> str:
    """Why an alert nobody planted was raised, as far as the simulator can tell from what it did."""
    t = _at(alert)
    ev = alert.get("evidence") or {}
    near = lambda spans: any(a - 1800 <= t <= b + 1800 for a, b in spans)  # noqa: E731
    kind = alert["kind"]
    p = d.plan
    if kind == "curfew_no_fix":
        start = _ts(ev.get("window_start"))
        if start is not None and start < p.t[0]:
            return ("the run began inside this curfew window: the device was switched on (enrolled) "
                    f"{(p.t[0] - start) / 60:.0f} min after the window opened, so the window's first "
                    "30 minutes hold no fix")
        return ("no fix at a curfew start: the device was switched off or out of coverage" if near(p.silent + p.gaps)
                else "no fix at a curfew start within the platform's window (upload cadence)")
    if kind == "check_in_missed":
        if t < p.t[0]:
            return "a prompt the platform drew for a time before this person was enrolled"
        how = (outcomes or {}).get(str(ev.get("prompt_id")))
        if how and ev.get("failures_to_acquire"):
            return (f"answered ({how}) but the platform found no usable face in the photo (failure to "
                    "acquire; LFW photos are not selfies) and the watch does not retry")
        if how:
            return f"answered ({how}) but not accepted as a check-in"
        if not ev.get("challenge_fetched"):
            return "the watch never saw the prompt (it polls at each upload: switched off or out of coverage)"
        return "not planted by the simulator"
    if kind == "implausible_movement":
        return "a jump in the replayed GeoLife recording, or a cell fix far from the last GPS fix"
    if kind in ("inclusion_zone_exited", "curfew_breach_started"):
        return "a cell-only fix (300-900 m accuracy) at home" if near(d.cell_only) else "GPS noise at the home boundary"
    if kind == "exclusion_zone_entered":
        i = np.flatnonzero(np.abs(p.t - t) <= 900)
        if len(i):
            closest = float(planning.metres(p.exclusion[0], p.exclusion[1], p.lat[i], p.lon[i]).min())
            if closest < planning.EXCLUSION_RADIUS_M - 60:
                return (f"the trail crossed the zone (closest {closest:.0f} m from its centre) for less than the "
                        "two minutes the ground truth plants: the platform raises on the first fix inside")
            if closest < planning.EXCLUSION_RADIUS_M + 60:
                return (f"the true trail passed {closest:.0f} m from the zone's centre (radius "
                        f"{planning.EXCLUSION_RADIUS_M:.0f} m): a brush of the edge, planted only as a stop "
                        "60 m inside for two minutes; GPS noise put fixes inside")
        return "not planted by the simulator"
    if kind == "device_silent":
        if near(p.silent):
            return "switched off (planted)"
        if near(p.gaps):
            return "beside a planted 45-minute coverage gap (the gap and the upload intervals around it)"
        return ("not explained by the simulator: no planted silence or gap within 30 minutes (uploads delayed "
                "on the loaded machine are the likely cause; not verified)")
    return "not planted by the simulator"


def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def _at(alert: dict) -> float:
    return datetime.fromisoformat(alert["occurred_at"].replace("Z", "+00:00")).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def print_summary(console: Console, result: dict) -> None:
    s = result["sent"]
    console.print(f"sent {s['fixes']:,} fixes in {s['uploads']:,} uploads ({s['late_uploads']:,} late, "
                  f"{s['upload_errors']:,} errors) over {result['via']} in {result['real_seconds']} s; "
                  f"check-in answers {result['check_ins']['answers']}")
    cadence = result.get("upload_interval_s") or {}
    if cadence and cadence["achieved_mean"] > 1.2 * cadence["planned_mean"]:
        ack = cadence.get("accepted_p99_real_s")
        why = (f"the simulator could not offer them faster (its loop ran behind; each upload was accepted "
               f"in {ack:g} s real at p99)" if ack is not None and ack < 1.0 else
               "the platform accepted uploads slower than offered")
        console.print(f"[yellow]devices uploaded every {cadence['achieved_mean']:g} s on average, not every "
                      f"{cadence['planned_mean']:g} s as planned: {why} (fewer, larger uploads)[/]")
    table = Table(title="planted (simulator's ground truth) vs raised by the platform")
    for col in ("alert kind", "planted", "raised", "missed", "extra"):
        table.add_column(col, justify="right" if col != "alert kind" else "left")
    for kind, v in result["by_kind"].items():
        table.add_row(kind, *(str(v[c]) for c in ("planted", "raised", "missed", "extra")))
    console.print(table)
    planted = sum(v["planted"] for v in result["by_kind"].values())
    console.print(f"missed planted alerts: {len(result['missed'])} of {planted}; planted kinds never raised: "
                  f"{result['planted_kinds_never_raised'] or 'none'}")
    for row in result["missed"][:20]:
        console.print(f"  missed {row['kind']} at {row['at']} for {row['subject_id']}")
    if result["after_end"]:
        console.print(f"after the simulated window (devices stop sending; not compared): {result['after_end']}")
    console.print(f"extra alerts: {len(result['extra'])} (each with its reason in the JSON), by reason:")
    for row in result["extra_by_reason"]:
        console.print(f"  {row['count']:>5} {row['kind']}: {row['reason']}")
    if result.get("throughput"):
        console.print(describe(result["throughput"]))
