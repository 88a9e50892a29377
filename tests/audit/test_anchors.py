"""Signed checkpoints outside the database: cutting the chain's tail, wiping the log or moving the
head back is caught by `custodes audit verify --anchors`, though the chain alone still links."""

import json
import time

import sqlalchemy as sa
from typer.testing import CliRunner

from custodes.actor import Actor
from custodes.audit import anchors
from custodes.cli.main import app as cli
from custodes.outbox.models import OutboxMessage


def _write_entries(container, n):
    with container.uow(Actor.system("test")) as uow:
        for i in range(n):
            uow.record("read", "subject", f"s{i}")
        uow.commit()


def _tamper(container, *sql):
    with container.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            conn.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))
        for stmt in sql:
            conn.execute(sa.text(stmt))
        if pg:
            conn.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))


def _cli(settings, monkeypatch, *args):
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODES_HOME", str(settings.home))
    return CliRunner().invoke(cli, ["audit", *args])


def _cut_tail_and_move_head(container, keep):
    with container.engine.connect() as conn:
        h = conn.scalar(sa.text("SELECT hash FROM audit_entries WHERE seq = :s"), {"s": keep})
    _tamper(container, f"DELETE FROM audit_entries WHERE seq > {keep}",
            f"UPDATE audit_head SET seq = {keep}, hash = '{h}' WHERE id = 1")


def test_cut_tail_with_moved_head_passes_the_chain_but_not_the_checkpoints(container, settings, monkeypatch,
                                                                           tmp_path):
    _write_entries(container, 120)
    path = tmp_path / "anchors.jsonl"
    assert _cli(settings, monkeypatch, "checkpoint", "--anchors", str(path)).exit_code == 0
    _cut_tail_and_move_head(container, 70)  # the last 50 entries gone, head at the 50th-last hash
    # The chain alone (the head row lives in the same database) cannot tell.
    assert _cli(settings, monkeypatch, "verify").exit_code == 0
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 1, result.output
    assert "chain ends at 70" in result.output and "120" in result.output


def test_wiping_log_and_head_is_caught(container, settings, monkeypatch, tmp_path):
    _write_entries(container, 5)
    path = tmp_path / "anchors.jsonl"
    assert anchors.checkpoint(container, path).seq == 5
    _tamper(container, "DELETE FROM audit_entries", "DELETE FROM audit_head")
    assert _cli(settings, monkeypatch, "verify").exit_code == 0
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 1 and "chain ends at 0" in result.output


def test_default_checkpoint_file_is_used_when_present(container, settings, monkeypatch):
    _write_entries(container, 3)
    assert anchors.checkpoint(container).seq == 3  # $CUSTODES_HOME/audit/checkpoints.jsonl
    _tamper(container, "DELETE FROM audit_entries", "DELETE FROM audit_head")
    assert _cli(settings, monkeypatch, "verify").exit_code == 1


def test_intact_chain_passes_with_every_checkpoint(container, settings, monkeypatch, tmp_path):
    path = tmp_path / "anchors.jsonl"
    for n in (4, 2, 7):
        _write_entries(container, n)
        anchors.checkpoint(container, path)
    assert anchors.checkpoint(container, path) is None  # nothing new: nothing written
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [4, 6, 13]
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 0, result.output
    assert "13 entries verified, 3 signed checkpoints held" in result.output


def test_a_replaced_entry_at_a_checkpoint_is_caught(container, settings, monkeypatch, tmp_path):
    # Even a rewrite that keeps the chain linking (someone holding the HMAC key) leaves the signed
    # checkpoint's hash behind: emulate by rewriting the anchored hash itself in the file's copy.
    _write_entries(container, 4)
    path = tmp_path / "anchors.jsonl"
    cp = anchors.checkpoint(container, path)
    key = anchors.signing_key(settings.key_dir)
    forged = anchors.sign(key, cp.seq, "f" * 64, container.clock.now())
    path.write_text(json.dumps(forged.as_dict()) + "\n")
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 1 and "differs from the signed checkpoint" in result.output


def test_a_checkpoint_not_signed_by_the_server_key_is_refused(container, settings, monkeypatch, tmp_path):
    _write_entries(container, 4)
    path = tmp_path / "anchors.jsonl"
    anchors.checkpoint(container, path)
    body = json.loads(path.read_text())
    body["seq"] = 2  # an attacker "lowering" the anchor to match a cut chain
    path.write_text(json.dumps(body) + "\n")
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 1 and "signature does not verify" in result.output


def test_missing_checkpoint_file_is_one_readable_line(settings, monkeypatch, tmp_path, container):
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1 and "no checkpoint file" in result.output


def test_checkpoint_refuses_to_bless_a_cut_chain(container, settings, monkeypatch, tmp_path):
    _write_entries(container, 60)
    path = tmp_path / "anchors.jsonl"
    anchors.checkpoint(container, path)
    _cut_tail_and_move_head(container, 10)
    _write_entries(container, 80)  # the chain grows past the old checkpoint again, but differently
    result = _cli(settings, monkeypatch, "checkpoint", "--anchors", str(path))
    assert result.exit_code == 1 and "no longer holds entry 60" in result.output
    assert len(path.read_text().splitlines()) == 1


def test_checkpoint_goes_to_the_outbox_for_an_external_receiver(container, tmp_path):
    _write_entries(container, 2)
    cp = anchors.checkpoint(container, tmp_path / "a.jsonl")
    with container.session_factory() as s:
        msgs = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == anchors.TOPIC)).all()
    assert [m.payload for m in msgs] == [cp.as_dict()]
    # The receiver checks it with the published public key alone.
    pub = anchors.signing_key(container.settings.key_dir).public_key()
    (tmp_path / "recv.jsonl").write_text(json.dumps(msgs[0].payload) + "\n")
    assert anchors.read(tmp_path / "recv.jsonl", pub)[0].seq == 2
    assert (container.settings.key_dir / "audit_anchor.pub").is_file()
    assert oct((container.settings.key_dir / "audit_anchor.key").stat().st_mode & 0o777) == "0o600"


def test_the_runner_writes_checkpoints_on_its_schedule(container):
    from custodes.runner import Runner

    _write_entries(container, 3)
    runner = Runner(container, mqtt=False, name="t-anchor", tick_s=0, notify=False, checkpoint_s=0.05)
    path = anchors.default_path(container.settings.home)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not path.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert json.loads(path.read_text().splitlines()[0])["seq"] == 3


def test_the_auditors_verify_route_checks_the_checkpoints_too(client, container, officer):
    _write_entries(container, 30)
    anchors.checkpoint(container)
    auditor = officer("auditor", "monitoring")
    ok = client.get("/v1/audit/verify", headers=auditor).json()
    assert ok["ok"] is True and ok["checkpoints_checked"] == 1
    _cut_tail_and_move_head(container, 10)
    bad = client.get("/v1/audit/verify", headers=auditor).json()
    assert bad["ok"] is False and "signed checkpoint" in bad["reason"]


def test_checkpoints_out_of_order_mean_the_file_was_rearranged(container, settings, monkeypatch, tmp_path):
    path = tmp_path / "anchors.jsonl"
    for n in (3, 3):
        _write_entries(container, n)
        anchors.checkpoint(container, path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(reversed(lines)) + "\n")  # each line still signed, the order is not the writer's
    result = _cli(settings, monkeypatch, "verify", "--anchors", str(path))
    assert result.exit_code == 1 and "goes back" in result.output
