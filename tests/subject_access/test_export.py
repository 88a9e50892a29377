"""The subject access export: every class of data held for the person, and nothing of anyone else."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from custodes.subject_access.export import DATA_CLASSES
from tests.subject_access.conftest import held_data

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _everything(client, container, clock, cw, c) -> dict[str, str]:
    """One row of every class for case `c`: through the API where it can, else directly."""
    held = held_data(container, clock, c["subject"]["id"], c["device"]["id"])
    r = client.post("/v1/my/representations", data={"text": "I was in hospital that night", "kind": "medical_evidence"},
                    files={"attachment": ("letter.pdf", PDF, "application/pdf")}, headers=c["headers"])
    assert r.status_code == 201, r.text
    held["representation"] = r.json()["id"]
    r = client.post("/v1/my/contests", json={"target_type": "alert", "target_id": held["alert"],
                                             "grounds": "my battery was replaced that day"}, headers=c["headers"])
    assert r.status_code == 201, r.text
    held["task"] = r.json()["id"]
    r = client.post(f"/v1/subjects/{c['subject']['id']}/in-person",
                    json={"grounds": "injury", "reason": "hand in plaster; cannot hold the watch up"}, headers=cw)
    assert r.status_code == 201, r.text
    held["arrangement"] = r.json()["id"]
    r = client.post("/v1/reporting/reports", json={"barcode": c["device"]["barcode"], "subject_id": c["subject"]["id"],
                                                   "centre": "Croydon reporting centre"}, headers=cw)
    assert r.status_code == 201, r.text
    held["report"] = r.json()["id"]
    return held


def test_export_holds_every_class_for_the_subject_and_nothing_of_anyone_else(client, officer, case, container,
                                                                               clock):
    cw = officer("caseworker")
    a, b = case(cw), case(cw, full_name="Ana Popescu", nationality="RO", preferred_language="ro")
    mine = _everything(client, container, clock, cw, a)
    theirs = _everything(client, container, clock, cw, b)
    # Someone reads the case, so the audit log holds an officer's read of it.
    assert client.get(f"/v1/subjects/{a['subject']['id']}", headers=cw).status_code == 200

    r = client.get("/v1/my/export", headers=a["headers"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    text = r.text
    empty = [k for k in DATA_CLASSES if not data[k] or (isinstance(data[k], dict) and not any(data[k].values()))]
    assert empty == [], f"data classes missing from the export: {empty}"
    assert data["subject"]["full_name"] == "Jan Kowalski" and data["subject"]["id"] == a["subject"]["id"]
    for key, value in mine.items():
        assert value in text, f"own {key} missing"
    assert data["trail"] and len(data["trail"]) == 2 and data["raw_telemetry"][0]["fix_count"] == 2
    assert data["representations"][0]["attachment_base64"]
    assert data["reviews"][0]["decisions"][0]["reviewer"] == "reviewer 1"
    assert any(e["by"].startswith("an officer of") and e["action"] == "read" for e in data["audit"])
    assert any(e["action"] == "sign_in" for e in data["audit"])
    # Nothing of anyone else: not the other person, nor the officers who handled the case.
    for key, value in theirs.items():
        assert value not in text, f"the other person's {key} is in the export"
    for value in (b["subject"]["id"], "Ana Popescu", b["device"]["serial"], b["device"]["id"], b["order"]["id"]):
        assert value not in text
    with container.engine.connect() as conn:
        officers = conn.scalars(sa.text("SELECT id FROM users")).all()
        usernames = conn.scalars(sa.text("SELECT username FROM users")).all()
    for officer_id in (uuid.UUID(str(x)) for x in officers):
        assert str(officer_id) not in text and officer_id.hex not in text
    for name in usernames:
        assert name not in text
    assert "sealed" not in json.dumps(data["face_data"])  # described, not handed over

    pdf = client.get("/v1/my/export.pdf", headers=a["headers"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 2000
    with container.engine.connect() as conn:
        exports = conn.scalar(sa.text("SELECT count(*) FROM audit_entries WHERE action = 'export'"))
    assert exports == 2  # the JSON and the PDF download, each audited
