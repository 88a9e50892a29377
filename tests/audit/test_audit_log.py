"""The audit log: written by the unit of work, atomic with the change, tamper-evident."""

import uuid

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from custodes.actor import Actor, Role
from custodes.audit import chain
from custodes.cli.main import app as cli
from custodes.subjects import service as subjects
from custodes.subjects.models import SubjectCreate

SUBJECT = SubjectCreate(full_name="Ida Berg", date_of_birth="1988-08-08", nationality="SE",
                        preferred_language="sv", time_zone="Europe/Stockholm")


def entries(container):
    with container.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT seq, action, target_type, target_id, actor_name, purpose FROM audit_entries ORDER BY seq"))]


def caseworker(agencies):
    return Actor(kind="user", id=str(uuid.uuid4()), name="cw", agency_id=agencies["home_office"],
                 role=Role.CASEWORKER)


def test_writes_and_sensitive_reads_are_audited(client, container, officer, new_subject):
    cw = officer("caseworker")
    s = new_subject(cw)
    client.get(f"/v1/subjects/{s['id']}", headers=cw)
    client.patch(f"/v1/subjects/{s['id']}", json={"full_name": "Jan K."}, headers=cw)
    client.get("/v1/subjects", headers=cw)
    mine = [(e["action"], e["target_type"]) for e in entries(container) if e["target_id"] in (s["id"], None)
            and e["target_type"] == "subject"]
    assert mine == [("create", "subject"), ("read", "subject"), ("update", "subject"), ("list", "subject")]
    update = [e for e in entries(container) if e["action"] == "update"][0]
    assert update["actor_name"].startswith("caseworker")


def test_a_write_that_fails_halfway_leaves_neither_change_nor_audit(container, agencies, rows):
    before = rows("subjects"), rows("audit_entries"), rows("orders")
    with pytest.raises(RuntimeError):
        with container.uow(caseworker(agencies)) as uow:
            subject = subjects.create(uow=uow, data=SUBJECT)
            uow.session.flush()  # the row reached the database inside the transaction...
            uow.record_read("subject", subject.id)
            raise RuntimeError("power cut before commit")
    assert (rows("subjects"), rows("audit_entries"), rows("orders")) == before


def test_a_commit_that_fails_leaves_no_audit_entry(container, agencies, rows):
    with container.uow(caseworker(agencies)) as uow:
        first = subjects.create(uow=uow, data=SUBJECT)
        uow.commit()
    before = rows("subjects"), rows("audit_entries")
    with pytest.raises(sa.exc.IntegrityError):
        with container.uow(caseworker(agencies)) as uow:
            subjects.create(uow=uow, data=SUBJECT)
            clash = subjects.create(uow=uow, data=SUBJECT)
            clash.id = first.id  # primary-key clash: fails inside commit, after audit rows were prepared
            uow.commit()
    assert (rows("subjects"), rows("audit_entries")) == before


def test_api_error_midway_stores_nothing(client, container, officer, new_subject, rows):
    cw = officer("caseworker")
    s = new_subject(cw)
    before = rows("subject_shares"), rows("audit_entries")
    r = client.post(f"/v1/subjects/{s['id']}/shares", json={"agency_id": str(uuid.uuid4())}, headers=cw)
    assert r.status_code == 422
    assert (rows("subject_shares"), rows("audit_entries")) == before


def test_chain_links_every_entry(container, officer, new_subject):
    cw = officer("caseworker")
    new_subject(cw)
    with container.uow(Actor.system("test")) as uow:
        results = list(chain.verify(uow.session, container.audit_key))
    assert results and all(isinstance(x, int) for x in results)
    assert results == list(range(1, len(results) + 1))


def _tamper(container, sql: str) -> None:
    with container.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
            conn.execute(sa.text(sql))
            conn.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))
            conn.execute(sa.text(sql))


def _verify(settings, monkeypatch):
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    return CliRunner().invoke(cli, ["audit", "verify"])


def test_audit_log_refuses_updates_and_deletes(container, officer, new_subject):
    new_subject(officer("caseworker"))
    for sql in ("UPDATE audit_entries SET purpose = 'x' WHERE seq = 1", "DELETE FROM audit_entries WHERE seq = 1"):
        with pytest.raises(sa.exc.DatabaseError):
            with container.engine.begin() as conn:
                conn.execute(sa.text(sql))


@pytest.mark.parametrize("sql, bad_seq", [
    ("UPDATE audit_entries SET target_id = 'someone-else' WHERE seq = 3", 3),
    ("UPDATE audit_entries SET action = 'read' WHERE seq = 2", 2),
    ("DELETE FROM audit_entries WHERE seq = 2", 2),
    ("DELETE FROM audit_entries WHERE seq = (SELECT max(seq) FROM audit_entries)", None),
    # Swap two entries' contents (a reorder): their links no longer fit.
    ("UPDATE audit_entries SET seq = CASE seq WHEN 2 THEN 1002 WHEN 3 THEN 2 END WHERE seq IN (2, 3)", 2),
])
def test_verify_names_the_first_bad_entry(container, settings, officer, new_subject, monkeypatch, sql, bad_seq):
    cw = officer("caseworker")
    for _ in range(2):
        new_subject(cw)
    ok = _verify(settings, monkeypatch)
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _tamper(container, sql)
    result = _verify(settings, monkeypatch)
    assert result.exit_code == 1
    assert "audit chain broken at entry" in result.output
    if bad_seq is not None:
        assert f"entry {bad_seq}:" in result.output


def test_auditor_reads_the_log_and_the_reading_is_audited(client, officer, new_subject):
    new_subject(officer("caseworker"))
    auditor = officer("auditor", "monitoring")
    r = client.get("/v1/audit/entries?target_type=subject", headers=auditor)
    assert r.status_code == 200 and r.json()["total"] >= 1
    again = client.get("/v1/audit/entries?target_type=audit_entry", headers=auditor).json()
    assert again["total"] == 1 and again["items"][0]["action"] == "list"
    assert client.get("/v1/audit/verify", headers=auditor).json()["ok"] is True
    assert client.get("/v1/audit/entries", headers=officer("caseworker")).status_code == 403
