"""What the platform made of the simulator's traffic: messages and fixes accepted (HTTP 202 or MQTT
PUBACK) against processed by the pipeline, per real second, and upload→processed latency.

Processed times are the platform's `telemetry_batches.processed_at`, read from its database when
`--db-url` is given (read only). They are on the platform's simulated clock, as are the simulator's
send times (both follow the same `/healthz` reading), so a latency is the simulated difference
divided by the speed: real seconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa

from custodes.telemetry.models import TelemetryBatch

# The sending phase's first and last tenth are left out of the sustained rates: the first uploads
# carry the fixes buffered while people were being enrolled, and the last ones race the end.
EDGE_SHARE = 0.1


@dataclass
class Sends:
    """(device id, seq) → (sent at, acknowledged at, fixes): simulated epoch seconds."""

    rows: dict[tuple[str, int], tuple[float, float, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, device_id: str, seq: int, sent: float, acked: float, fixes: int) -> None:
        with self.lock:
            self.rows[(device_id, seq)] = (sent, acked, fixes)

    def accepted_p99(self, speed: float) -> float | None:
        """Real seconds from sending an upload to its acknowledgement (202 or PUBACK), p99."""
        if not self.rows:
            return None
        waits = np.array([acked - sent for sent, acked, _ in self.rows.values()]) / speed
        return round(float(np.percentile(waits, 99)), 3)


def processed_times(db_url: str, device_ids: list[str]) -> dict[tuple[str, int], float]:
    """(device id, seq) → processed_at (simulated epoch s) for the simulator's own devices."""
    engine = sa.create_engine(db_url)
    out: dict[tuple[str, int], float] = {}
    try:
        with engine.connect() as conn:
            for k in range(0, len(device_ids), 500):
                chunk = [uuid.UUID(d) for d in device_ids[k:k + 500]]
                rows = conn.execute(sa.text(
                    "SELECT device_id, seq, processed_at FROM telemetry_batches "
                    "WHERE device_id = ANY(:ids) AND processed_at IS NOT NULL"), {"ids": chunk})
                for device_id, seq, at in rows:
                    out[(str(device_id), int(seq))] = at.timestamp()
    finally:
        engine.dispose()
    return out


STILL_ON_ITS_WAY = ("the device's fixes for that hour were still on their way (at the broker or the API) "
                    "when the alert was raised: a backlog of minutes is hours of simulated time")
ALREADY_STORED = ("platform fault: the fixes of that hour were already stored when the alert was raised "
                  "(seen behind out-of-order batches of one device; docs/simulation.md)")


def silence_evidence(db_url: str, extra: list[dict]) -> int:
    """Give each unexplained device_silent extra the reason the platform's database shows: did the
    device send fixes inside the hour it was judged silent, and were they stored before or after the
    alert? Returns how many reasons it changed."""
    todo = [e for e in extra if e["kind"] == "device_silent" and e.get("last_seen") and e.get("raised_at")
            and e["reason"].startswith("not explained")]
    if not todo:
        return 0
    by_device: dict[str, list[dict]] = {}
    for e in todo:
        by_device.setdefault(e["device_id"], []).append(e)
    t = TelemetryBatch.__table__
    engine = sa.create_engine(db_url)
    changed = 0
    try:
        with engine.connect() as conn:
            for device_id, alerts in by_device.items():  # one read per device, each batch parsed once
                spans = [tuple(_instant(e[k]) for k in ("last_seen", "at", "raised_at")) for e in alerts]
                rows = conn.execute(sa.select(t.c.received_at, t.c.raw).where(
                    t.c.device_id == uuid.UUID(device_id), t.c.received_at >= min(s[0] for s in spans)))
                stored = [(received if received.tzinfo else received.replace(tzinfo=UTC),
                           [_instant(it["time"]) for it in _items(bytes(raw)) if it.get("kind") == "fix"])
                          for received, raw in rows]
                for e, (seen, at, raised) in zip(alerts, spans):
                    first = min((received for received, times in stored if received >= seen
                                 and any(seen < x <= at for x in times)), default=None)
                    if first is not None:
                        e["reason"] = STILL_ON_ITS_WAY if first > raised else ALREADY_STORED
                        changed += 1
    finally:
        engine.dispose()
    return changed


def _items(raw: bytes) -> list[dict]:
    try:
        return json.loads(raw).get("items", [])
    except ValueError:  # NDJSON: one item a line, after the header line
        return [json.loads(line) for line in raw.splitlines()[1:] if line.strip()]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def measure(sends: Sends, processed: dict[tuple[str, int], float], speed: float) -> dict:
    """Accepted and processed rates over the sending phase (its middle 80 %), latency, and backlog."""
    if not sends.rows:
        return {"uploads_accepted": 0}
    keys = list(sends.rows)
    sent = np.array([sends.rows[k][0] for k in keys])
    acked = np.array([sends.rows[k][1] for k in keys])
    fixes = np.array([sends.rows[k][2] for k in keys])
    done = np.array([processed.get(k, np.nan) for k in keys])
    first, last = float(sent.min()), float(acked.max())
    lo, hi = first + EDGE_SHARE * (last - first), last - EDGE_SHARE * (last - first)
    window_real = (hi - lo) / speed
    in_acc = (acked >= lo) & (acked < hi)
    in_done = (done >= lo) & (done < hi)  # NaN compares False: unprocessed batches count nowhere
    lat = (done - sent)[~np.isnan(done)] / speed
    pct = (lambda a, q: round(float(np.percentile(a, q)), 3) if len(a) else None)
    per_s = (lambda n: round(float(n) / window_real, 1) if window_real > 0 else None)
    return {
        "uploads_accepted": len(keys), "uploads_processed": int((~np.isnan(done)).sum()),
        "uploads_not_processed": int(np.isnan(done).sum()),
        "fixes_accepted": int(fixes.sum()), "fixes_processed": int(fixes[~np.isnan(done)].sum()),
        "sustained_window_real_s": round(window_real, 1),
        "messages_per_s": {"accepted": per_s(in_acc.sum()), "processed": per_s(in_done.sum())},
        "fixes_per_s": {"accepted": per_s(fixes[in_acc].sum()), "processed": per_s(fixes[in_done].sum())},
        "latency_upload_to_accepted_s": {"p50": pct((acked - sent) / speed, 50), "p99": pct((acked - sent) / speed, 99)},
        "latency_upload_to_processed_s": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                                          "max": pct(lat, 100)},
        # Accepted but not yet processed when the last upload was acknowledged: a growing backlog
        # means the offered load is above what the platform sustains.
        "backlog_at_last_upload": int(((done > last) | np.isnan(done)).sum()),
        "drained_real_s_after_last_upload": (round((float(np.nanmax(done)) - last) / speed, 1)
                                             if (~np.isnan(done)).any() else None),
    }


def describe(m: dict) -> str:
    if not m.get("uploads_accepted"):
        return "no uploads accepted"
    lat = m["latency_upload_to_processed_s"]
    return (f"platform: {m['messages_per_s']['processed']} messages/s and {m['fixes_per_s']['processed']} fixes/s "
            f"processed against {m['messages_per_s']['accepted']} and {m['fixes_per_s']['accepted']} accepted "
            f"(middle {m['sustained_window_real_s']} s); {m['uploads_processed']:,} of {m['uploads_accepted']:,} "
            f"uploads processed; upload→processed p50 {lat['p50']} s, p99 {lat['p99']} s, max {lat['max']} s; "
            f"backlog at the last upload {m['backlog_at_last_upload']:,}")
