"""Trail reads: GeoJSON or CSV, accuracy kept, each read audited with its purpose; cheap deletion."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit.models import AuditEntry
from custodes.lab.device_client import encode, fix
from custodes.telemetry import trail
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME


def _load(client, clock, container, person, n=20):
    t0 = clock.now() - timedelta(minutes=30)
    items = [fix(t0 + timedelta(seconds=30 * i), HOME[0] + i * 1e-5, HOME[1], 3.0 + i, "gps" if i % 2 else "cell")
             for i in range(n)]
    body = encode(1, items)
    assert client.post(person.client.path, content=body,
                       headers=person.client.http_headers(body, clock.now())).status_code == 202
    Pipeline(container).run_once()
    return t0


def _params(t0, clock, **kw):
    return {"from": t0.isoformat(), "to": clock.now().isoformat(), **kw}


def test_geojson_and_csv_keep_accuracy_and_each_read_is_audited(client, clock, container, person, officer):
    t0 = _load(client, clock, container, person)
    headers = officer("caseworker")
    path = f"/v1/subjects/{person.subject_id}/trail"
    r = client.get(path, params=_params(t0, clock, purpose="case_management", purpose_detail="curfew review REF-1"), headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    assert len(feats) == 20
    assert [f["properties"]["accuracy_m"] for f in feats] == [3.0 + i for i in range(20)]
    assert feats[1]["geometry"]["coordinates"] == [HOME[1], HOME[0] + 1e-5]
    r = client.get(path, params=_params(t0, clock, purpose="court_proceedings", purpose_detail="court bundle REF-2", format="csv"), headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert len(table) == 20 and table[0]["source"] == "cell" and float(table[5]["accuracy_m"]) == 8.0
    with container.uow(Actor.system("test")) as uow:
        reads = uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "trail")
                                    .order_by(AuditEntry.seq)).all()
    assert [(e.action, e.purpose, e.target_id) for e in reads] == [
        ("read", "case_management", str(person.subject_id)), ("read", "court_proceedings", str(person.subject_id))]
    assert reads[1].detail["purpose_detail"] == "court bundle REF-2" and reads[1].detail["role"] == "caseworker"
    assert reads[0].detail["points"] == 20


def test_purpose_is_required_and_other_agencies_see_nothing(client, clock, container, person, officer, rows):
    t0 = _load(client, clock, container, person, n=3)
    path = f"/v1/subjects/{person.subject_id}/trail"
    r = client.get(path, params=_params(t0, clock), headers=officer("caseworker"))
    assert r.status_code == 422 and "purpose" in r.json()["detail"]
    r = client.get(path, params=_params(t0, clock, purpose="case_management", purpose_detail="curiosity"), headers=officer("caseworker", "other_office"))
    assert r.status_code == 404
    r = client.get(path, params=_params(t0, clock, purpose="case_management", purpose_detail="audit sample"), headers=officer("auditor"))
    assert r.status_code == 403
    assert not [e for e in _trail_reads(container)]


def _trail_reads(container):
    with container.uow(Actor.system("test")) as uow:
        return uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "trail")).all()


def test_deleting_by_subject_or_by_date_is_cheap_and_exact(client, clock, container, person, other_person, rows):
    t0 = _load(client, clock, container, person, n=20)
    _load(client, clock, container, other_person, n=10)
    cut = t0 + timedelta(seconds=30 * 5)  # the first five fixes of `person` are older
    with container.uow(Actor.system("retention")) as uow:
        assert trail.delete_before(uow.session, cut) == 5 + 5
        uow.commit()
    with container.uow(Actor.system("retention")) as uow:
        left = trail.read(uow.session, person.subject_id, t0 - timedelta(days=1), clock.now())
        assert len(left) == 15 and left[0].at == cut
        assert trail.delete_subject(uow.session, other_person.subject_id) == 5
        uow.commit()
    assert rows("trail_segments") == 1
    with container.uow(Actor.system("test")) as uow:
        figures = trail.storage_figures(uow.session)
    assert figures["fixes"] == 15 and figures["bytes_per_fix"] > 0
