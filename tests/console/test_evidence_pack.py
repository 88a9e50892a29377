"""The evidence pack of one alert: its contents, scoped and audited, and the PDF a browser downloads."""

from __future__ import annotations

from sqlalchemy import select

from custodes.actor import Actor, Role
from custodes.alerts.models import Alert
from custodes.audit import chain
from custodes.audit.models import AuditEntry
from custodes.console import evidence
from custodes.errors import NotFound


def _alert(console_server) -> Alert:
    with console_server.container.uow(Actor.system("test")) as uow:
        return uow.session.scalars(select(Alert).where(Alert.subject_id == console_server.scenario.subject_id)).one()


def _officer(console_server, agency: str) -> Actor:
    return Actor(kind="user", id="00000000-0000-0000-0000-00000000beef", name=f"{agency}-tester",
                 agency_id=console_server.scenario.agencies[agency], role=Role.CASEWORKER)


def test_the_pack_holds_rule_version_batches_decisions_and_its_own_audited_export(console_server):
    alert = _alert(console_server)
    c = console_server.container
    with c.uow(_officer(console_server, "north")) as uow:
        pack = evidence.assemble(uow=uow, subject_id=alert.subject_id, alert_id=alert.id, purpose="court_evidence")
    assert pack.rule is not None and pack.rule.words == "must not enter: Zone B (circle, 300 m)"
    assert pack.rule.version == 1 and pack.rule.condition_id == alert.evidence["zone_id"]
    assert 55 <= len(pack.points) <= 61  # an hour of one-a-minute fixes around the event
    assert f"{alert.evidence['source_batch']}" in {f"{b.device_id}/{b.seq}" for b in pack.batches}
    assert all(len(b.body_sha256) == 64 for b in pack.batches)
    assert pack.decisions[0][1] == "the rules engine"
    kinds = [(e.action, e.target_type) for e in pack.audit]
    assert ("create", "alert") in kinds and ("create", "condition") in kinds
    # The pack's own export, committed with its place in the chain (beside the audited alert read).
    export = next(e for e in reversed(pack.audit) if e.action == "export")
    assert (export.action, export.target_type, export.purpose) == ("export", "trail", "court_evidence")
    assert export.detail["format"] == "evidence_pack" and export.actor_name == "north-tester"
    with c.uow(Actor.system("test")) as uow:
        assert not [f for f in chain.verify(uow.session, c.audit_key) if isinstance(f, chain.ChainFault)]


def test_another_agency_gets_no_pack_and_nothing_is_exported(console_server):
    alert = _alert(console_server)
    c = console_server.container
    with c.uow(Actor.system("test")) as uow:
        before = uow.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    with c.uow(_officer(console_server, "south")) as uow:
        try:
            evidence.assemble(uow=uow, subject_id=alert.subject_id, alert_id=alert.id, purpose="court_evidence")
            raise AssertionError("the south agency was given the north's evidence pack")
        except NotFound:
            pass
    with c.uow(Actor.system("test")) as uow:
        after = uow.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    assert after == before


def test_the_browser_downloads_the_pack_as_a_pdf(signed_in, console_server):
    page = signed_in("casey")
    page.goto(f"/subjects/{console_server.scenario.subject_id}")
    with page.expect_download() as info:
        page.get_by_role("button", name="Evidence pack (PDF)").click()
    body = open(info.value.path(), "rb").read()
    assert body.startswith(b"%PDF-") and body.count(b"/Type /Page\n") + body.count(b"/Type /Page ") >= 4
    assert info.value.suggested_filename.startswith("evidence-")
