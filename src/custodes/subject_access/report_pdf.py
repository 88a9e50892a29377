"""The readable half of the subject access export: a PDF report of the same data as the JSON.

It summarises where the JSON lists (the trail is given per day, not fix by fix). DejaVu Sans is used
where the system has it, so names and texts in Albanian, Polish and Romanian print as written;
without it the core font is used and characters it lacks are replaced, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from fpdf import FPDF

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


class _Report(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.unicode = _FONT.is_file() and _BOLD.is_file()
        if self.unicode:
            self.add_font("body", "", str(_FONT))
            self.add_font("body", "B", str(_BOLD))
        self.family = "body" if self.unicode else "helvetica"
        self.set_auto_page_break(True, margin=15)
        self.set_title("Subject access report")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 8, f"Page {self.page_no()}", align="C")

    def clean(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font(self.family, "B", 13)
        self.multi_cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def line(self, text: str) -> None:
        self.multi_cell(0, 5, self.clean(text), new_x="LMARGIN", new_y="NEXT")


def _fields(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "; ".join(f"{k.replace('_', ' ')}: {row[k]}" for k in keys if row.get(k) not in (None, "", [], {}))


def render(data: dict[str, Any]) -> bytes:
    pdf = _Report()
    pdf.add_page()
    pdf.heading("Everything held about you")
    pdf.line(f"Produced {data['generated_at']} for subject {data['subject_id']}. The JSON file of the same export "
             "holds every record in full; this report summarises it.")
    s = data["subject"]
    pdf.heading("You")
    pdf.line(_fields(s, ("full_name", "date_of_birth", "nationality", "preferred_language", "time_zone", "agency")))
    if s.get("shared_with"):
        pdf.line("Your case is shared with: " + ", ".join(x for x in s["shared_with"] if x))
    pdf.heading("Orders")
    for o in data["orders"]:
        pdf.line(_fields(o, ("status", "legal_basis", "starts_at", "ends_at", "next_review_due",
                             "vulnerability_flags", "health_flags")))
        for alt in o.get("less_intrusive_options") or []:
            pdf.line(f"  Less intrusive option considered: {alt.get('option')} (rejected: {alt.get('reason_rejected')})")
    for n in data["necessity_records"]:
        pdf.line(f"Necessity ({n['recorded_at']}): {n['necessity']} Proportionality: {n['proportionality']} "
                 f"Vulnerability and health: {n['vulnerability_and_health']}")
    for t in data["review_triggers"]:
        pdf.line(f"Review brought forward on {t['at']} to {t['new_due']}: {t['reason']}")
    pdf.heading("Conditions")
    for c in data["conditions"]:
        pdf.line(f"{c['kind']}: {c['spec']}")
    pdf.heading("Devices")
    for a in data["devices"]:
        d = a["device"]
        pdf.line(f"{d['kind']} {d['serial']} (barcode {d['barcode']}), from {a['starts_at']} to {a['ends_at'] or 'now'}")
    pdf.line(f"Raw uploads from your devices: {len(data['raw_telemetry'])}")
    pdf.heading("Locations (trail)")
    days = Counter(p["at"][:10] for p in data["trail"])
    pdf.line(f"{len(data['trail'])} locations in all." + ("" if not days else " Per day: " +
             ", ".join(f"{d}: {n}" for d, n in sorted(days.items()))))
    pdf.heading("Check-ins")
    for p in data["check_ins"]:
        pdf.line(f"{p['opens_at']} ({p['method']}): {p['in_plain_words']} [{p['status']}"
                 f"{', ' + p['reason'] if p.get('reason') else ''}; attempts {len(p['attempts'])}]")
    for r in data["in_person"]["reports"]:
        pdf.line(f"Reported in person at {r['centre']} on {r['reported_at']}")
    for a in data["in_person"]["arrangements"]:
        pdf.line(f"In-person reporting since {a['starts_at']} ({a['grounds']}): {a['reason']}")
    pdf.heading("Reviews by people")
    for i in data["reviews"]:
        pdf.line(f"{i['created_at']}: why reviewed: {i['reason']}; result: {i['outcome'] or i['status']}")
        for d in i["decisions"]:
            pdf.line(f"  {d['reviewer']}: {d['decision']} - {d['reason']}")
    pdf.heading("Alerts")
    for a in data["alerts"]:
        pdf.line(f"{a['occurred_at']}: {a['kind']} ({a['status']}{', ' + a['outcome'] if a.get('outcome') else ''})"
                 f"{' - ' + a['reason'] if a.get('reason') else ''}")
    pdf.heading("Your representations and challenges")
    for r in data["representations"]:
        att = f" (attachment {r['attachment_name']}, {r['attachment_size']} bytes)" if r.get("attachment_name") else ""
        pdf.line(f"{r['submitted_at']} {r['kind']}: {r['text']}{att}")
    for t in data["tasks"]:
        answer = f"answered {t['decided_at']}: {t['decision']} - {t['reason']}" if t["decision"] else \
            f"waiting for an answer, due {t['due_at']}"
        pdf.line(f"{t['kind']} about {t['target_type']} ({t['created_at']}): {t['grounds']} -> {answer}")
    pdf.heading("Face data")
    f = data["face_data"]
    pdf.line(f"{f['statement']} Enrolments: {len(f['enrolments'])}; photos: {len(f['photos'])}.")
    pdf.heading("Who looked at or changed your data")
    for e in data["audit"]:
        pdf.line(f"{e['at']} {e['by']}: {e['action']} {e['target_type']}"
                 f"{' - purpose: ' + e['purpose'] if e.get('purpose') else ''}")
    return bytes(pdf.output())
