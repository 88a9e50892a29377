"""Laying out an evidence pack as a PDF (matplotlib's PDF backend; no pyplot, so no global state)."""

from __future__ import annotations

import io
import json
import math
import textwrap
from datetime import UTC, datetime

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon

from custodes.console.evidence import EvidencePack
from custodes.console.web import local

A4 = (8.27, 11.69)
LINES_PER_PAGE = 70


def _utc(dt: datetime | None) -> str:
    return local(dt, "UTC", "%Y-%m-%d %H:%M:%S UTC")


def _both(dt: datetime | None, tz: str) -> str:
    return f"{local(dt, tz, '%Y-%m-%d %H:%M:%S %Z')} ({_utc(dt)})" if dt else "—"


def _text_pages(pdf: PdfPages, title: str, lines: list[str]) -> None:
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(line, 105, subsequent_indent="    ") or [""]
    for start in range(0, max(len(wrapped), 1), LINES_PER_PAGE):
        fig = Figure(figsize=A4)
        fig.text(0.06, 0.96, title + (" (continued)" if start else ""), fontsize=13, weight="bold", va="top")
        fig.text(0.06, 0.93, "\n".join(wrapped[start:start + LINES_PER_PAGE]), fontsize=7.2, family="monospace",
                 va="top", linespacing=1.35)
        pdf.savefig(fig)


def _metres(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    return ((lon - lon0) * 111_320 * math.cos(math.radians(lat0)), (lat - lat0) * 110_540)


def _map_page(pdf: PdfPages, pack: EvidencePack) -> None:
    ev = pack.alert.evidence or {}
    pts = pack.points
    lat0 = float(ev.get("lat", pts[len(pts) // 2].lat if pts else 51.5))
    lon0 = float(ev.get("lon", pts[len(pts) // 2].lon if pts else 0.0))
    fig = Figure(figsize=A4)
    fig.text(0.06, 0.96, "Fixes around the event, with their accuracy", fontsize=13, weight="bold", va="top")
    tz = pack.subject.time_zone
    caption = (f"{len(pts)} fixes from {_both(pack.window[0], tz)} to {_both(pack.window[1], tz)}. "
               "Metres from the event fix; the shaded circles are each fix's stated accuracy.")
    fig.text(0.06, 0.93, "\n".join(textwrap.wrap(caption, 110)), fontsize=8, va="top")
    ax = fig.add_axes((0.1, 0.3, 0.8, 0.58))
    ax.set_aspect("equal")
    for z in pack.zones:
        style = dict(fill=False, lw=1.5, ls="--" if z.get("zone_type") == "exclusion" else "-",
                     ec="#a4161a" if z.get("zone_type") == "exclusion" else "#1e6b34")
        if z.get("circle"):
            c = z["circle"]
            ax.add_patch(Circle(_metres(lat0, lon0, c["lat"], c["lon"]), c["radius_m"], **style, label=z["name"]))
        elif z.get("geometry"):
            rings = z["geometry"]["coordinates"] if z["geometry"]["type"] == "Polygon" else \
                [p[0] for p in z["geometry"]["coordinates"]]
            for ring in rings[:1] if z["geometry"]["type"] == "Polygon" else rings:
                ax.add_patch(Polygon([_metres(lat0, lon0, la, lo) for lo, la, *_ in ring], closed=True, **style))
    xy = [_metres(lat0, lon0, p.lat, p.lon) for p in pts]
    for (x, y), p in zip(xy, pts, strict=True):
        ax.add_patch(Circle((x, y), p.accuracy_m, color="#0b4f8a", alpha=0.08, lw=0))
    if xy:
        ax.plot([x for x, _ in xy], [y for _, y in xy], "-", color="#0b4f8a", lw=0.8)
        ax.plot([x for x, _ in xy], [y for _, y in xy], ".", color="#0b4f8a", ms=2)
    ax.plot([0], [0], "o", mfc="none", mec="#a4161a", ms=14, mew=2, label="event fix")
    ax.autoscale_view()
    ax.set_xlabel("metres east")
    ax.set_ylabel("metres north")
    ax.grid(True, lw=0.3)
    ax.legend(loc="upper right", fontsize=7)
    near = sorted(pts, key=lambda p: abs((p.at - pack.alert.occurred_at).total_seconds()))[:8]
    rows = [f"{local(p.at, tz, '%H:%M:%S %Z')}  {p.lat:.6f}, {p.lon:.6f}  ±{p.accuracy_m:g} m  {p.source}  {p.fix_id}"
            for p in sorted(near, key=lambda p: p.at)]
    fig.text(0.06, 0.25, "Fixes nearest the event:\n" + "\n".join(rows), fontsize=7, family="monospace", va="top")
    pdf.savefig(fig)


def render(pack: EvidencePack, *, made_by: str, made_at: datetime) -> bytes:
    a, s = pack.alert, pack.subject
    tz = s.time_zone
    summary = [
        f"Subject: {s.full_name} (id {s.id}), time zone {tz}",
        f"Alert: {a.kind.replace('_', ' ')} — {a.category.replace('_', ' ')}, severity {a.severity}, status {a.status}",
        f"Alert id: {a.id}   dedupe key: {a.dedupe_key}",
        f"Occurred: {_both(a.occurred_at, tz)}",
        f"Raised:   {_both(a.raised_at, tz)}",
        "",
        "RULE",
    ]
    if pack.rule:
        r = pack.rule
        summary += [f"{r.words}", f"Condition {r.condition_id} ({r.kind}), version {r.version} when the alert fired, "
                    f"last written {_both(r.written_at, tz)} by {r.written_by or 'unknown'}",
                    "Specification: " + json.dumps(r.spec, sort_keys=True)]
    else:
        summary.append("This alert does not name a condition (a device or integrity check).")
    summary += ["", "EVIDENCE RECORDED WITH THE ALERT"]
    summary += [f"  {k}: {v}" for k, v in sorted((a.evidence or {}).items())]
    summary += ["", "DECISIONS"]
    summary += [f"  {_both(at, tz)}  {who}: {what}" for at, who, what in pack.decisions]
    summary += ["", f"Pack made by {made_by} at {_both(made_at, tz)}; its export is the last audit entry listed."]
    batches = [f"{b.device_id}/{b.seq}  received {_utc(b.received_at)} via {b.channel}, {b.items} items, "
               f"body sha256 {b.body_sha256}" for b in pack.batches] or ["(no raw batch in the window)"]
    audit = []
    for e in pack.audit:
        audit += [f"#{e.seq} {_utc(e.at)} {e.actor_kind}:{e.actor_name or e.actor_id or '-'} {e.action} "
                  f"{e.target_type} {e.target_id or ''}" + (f" purpose={e.purpose}" if e.purpose else ""),
                  f"    prev {e.prev_hash}", f"    hash {e.hash}"]
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"Evidence pack, alert {a.id}", "Author": made_by,
                                 "Subject": f"{a.kind} for {s.full_name}", "Creator": "Custodes",
                                 "CreationDate": made_at.astimezone(UTC)}) as pdf:
        _text_pages(pdf, "Evidence pack", summary)
        _map_page(pdf, pack)
        _text_pages(pdf, "Raw batches (the devices' signed uploads, as stored)", batches)
        _text_pages(pdf, "Audit entries covering this pack", [
            "Each hash chains to the one before it under the server's audit key; `custodes audit verify` checks "
            "the whole chain.", ""] + (audit or ["(none)"]))
    return buf.getvalue()
