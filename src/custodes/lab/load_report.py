"""What `custodes bench load` read back from the platform's database, as figures and a table.

All latencies start when the bench began its upload. Stored is the raw batch's `received_at` (the
API before its 202; over MQTT, the worker that took the message from the broker); processed is
`processed_at` and an alert's `raised_at`, both in the processing transaction (visible at its
commit, a few milliseconds later).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.bootstrap import Container
from custodes.telemetry.models import TelemetryBatch


def _rows(container: Container, device_ids: list) -> list:
    out = []
    with container.uow(Actor.system("bench load")) as uow:
        for i in range(0, len(device_ids), 1000):
            out += uow.session.execute(sa.select(
                TelemetryBatch.device_id, TelemetryBatch.seq, TelemetryBatch.received_at,
                TelemetryBatch.processed_at, TelemetryBatch.quarantined_at, TelemetryBatch.fix_count)
                .where(TelemetryBatch.device_id.in_(device_ids[i:i + 1000]), TelemetryBatch.seq > 0)).all()
    return out


def drain(container: Container, sent: dict, device_ids: list, bound_s: float, progress: Progress) -> float:
    """Wait (at most `bound_s`) until every accepted upload is processed or set aside; the seconds waited."""
    task = progress.add_task("waiting for the platform to process", total=len(sent))
    t0 = time.monotonic()
    while True:
        rows = _rows(container, device_ids)
        done = sum(1 for r in rows if r.processed_at is not None or r.quarantined_at is not None)
        progress.update(task, completed=min(done, len(sent)))
        if done >= len(sent) or time.monotonic() - t0 > bound_s:
            return round(time.monotonic() - t0, 1)
        time.sleep(0.5)


def pct(a, q: float):
    return round(float(np.percentile(a, q)), 3) if len(a) else None


def figures(container: Container, sent: dict, errors: Counter, people: list, planted: set,
            send_s: float) -> dict:
    device_ids = [p.device_id for p in people]
    rows = {(r.device_id, r.seq): r for r in _rows(container, device_ids)}
    with container.uow(Actor.system("bench load")) as uow:
        alerts = []
        ids = [p.subject_id for p in people]
        for i in range(0, len(ids), 1000):
            alerts += uow.session.execute(sa.select(Alert.subject_id, Alert.kind, Alert.raised_at, Alert.evidence)
                                          .where(Alert.subject_id.in_(ids[i:i + 1000]))).all()
    stored = {k: rows[k] for k in sent if k in rows}
    processed = {k: r for k, r in stored.items() if r.processed_at is not None}
    quarantined = sum(1 for r in stored.values() if r.quarantined_at is not None)
    to_stored = np.array([r.received_at.timestamp() - sent[k][0] for k, r in stored.items()])
    to_done = np.array([r.processed_at.timestamp() - sent[k][0] for k, r in processed.items()])
    to_accept = np.array([v[2] - v[0] for v in sent.values()])
    to_alert, uuid_of = [], {str(d): d for d in device_ids}
    for _sid, _kind, raised, evidence in alerts:  # a tick's alert has no source batch: not an upload latency
        src = (evidence or {}).get("source_batch")
        if src:
            dev, seq = src.rsplit("/", 1)
            key = (uuid_of.get(dev), int(seq))
            if key in sent:
                to_alert.append(raised.timestamp() - sent[key][0])
    by_device = {str(p.device_id): p.subject_id for p in people}
    raised_for = {sid for sid, kind, _, _ in alerts if kind == "exclusion_zone_entered"}
    planted_subjects = {by_device[str(d)] for d in planted}
    first = min((v[0] for v in sent.values()), default=0.0)
    last_done = max((r.processed_at.timestamp() for r in processed.values()), default=first)
    fixes_acc = sum(v[1] for v in sent.values())
    fixes_done = sum(sent[k][1] for k in processed)
    errs = Counter(errors)
    if len(sent) - len(stored):
        errs["accepted, not stored within the bound"] = len(sent) - len(stored)
    if len(stored) - len(processed) - quarantined:
        errs["stored, not processed within the bound"] = len(stored) - len(processed) - quarantined
    if quarantined:
        errs["quarantined by the pipeline"] = quarantined
    span = max(last_done - first, 1e-9)
    return {
        "messages": {"accepted": len(sent), "stored": len(stored), "processed": len(processed)},
        "fixes": {"accepted": fixes_acc, "processed": fixes_done},
        "messages_per_s": {"accepted": round(len(sent) / send_s, 1), "processed": round(len(processed) / span, 1)},
        "fixes_per_s": {"accepted": round(fixes_acc / send_s, 1), "processed": round(fixes_done / span, 1)},
        "latency_s": {"upload_to_accepted": {"p50": pct(to_accept, 50), "p99": pct(to_accept, 99)},
                      "upload_to_stored": {"p50": pct(to_stored, 50), "p99": pct(to_stored, 99)},
                      "upload_to_processed": {"p50": pct(to_done, 50), "p99": pct(to_done, 99),
                                              "max": pct(to_done, 100)},
                      "upload_to_alert": {"p50": pct(to_alert, 50), "p99": pct(to_alert, 99), "n": len(to_alert)}},
        "alerts": {"total": len(alerts), "kinds": dict(Counter(k for _, k, _, _ in alerts).most_common()),
                   "planted_breaches": len(planted_subjects),
                   "planted_breaches_raised": len(planted_subjects & raised_for)},
        "errors": dict(errs.most_common()),
    }


def print_summary(console: Console, out: dict) -> None:
    f, s = out["figures"], out["settings"]
    table = Table(title=f"bench load: {s['devices']} devices, {s['rate']:g} uploads/s offered over {s['via']}, "
                        f"{s['seconds']:g} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [("uploads accepted / stored / processed",
             " / ".join(f"{f['messages'][k]:,}" for k in ("accepted", "stored", "processed"))),
            ("uploads/s accepted / processed", f"{f['messages_per_s']['accepted']} / {f['messages_per_s']['processed']}"),
            ("fixes/s accepted / processed", f"{f['fixes_per_s']['accepted']} / {f['fixes_per_s']['processed']}")]
    for name, v in f["latency_s"].items():
        rows.append((f"{name.replace('_', ' ')} p50 / p99 (s)", f"{v['p50']} / {v['p99']}"))
    a = f["alerts"]
    rows.append(("alerts (planted breaches raised)", f"{a['total']} ({a['planted_breaches_raised']} of "
                                                     f"{a['planted_breaches']})"))
    for name, p in out["processes"].items():
        rows.append((f"{name} CPU % of a core / memory MB peak (PSS) (pids {','.join(map(str, p['pids'])) or '-'})",
                     f"{p['cpu_pct_of_one_core']} / {p['pss_mb_peak']}"))
    rows.append(("errors", ", ".join(f"{k}: {v}" for k, v in f["errors"].items()) or "none"))
    la = s["load_average_1m"]
    rows.append(("load average (1 min) before / after", f"{la['before']} / {la['after']}"))
    for r in rows:
        table.add_row(*r)
    console.print(table)
