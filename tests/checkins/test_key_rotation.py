"""Rotating the face key and re-encrypting stored faces, through the real commands (both databases)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from checkins.support import GATES, challenge_frames
from custodes.cli.main import app


def _keys_in_use(container) -> set[str]:
    with container.engine.connect() as conn:
        photos = conn.execute(sa.text("SELECT DISTINCT key_id FROM face_photos WHERE key_id IS NOT NULL")).scalars()
        templates = conn.execute(sa.text("SELECT DISTINCT key_id FROM face_enrolments WHERE key_id IS NOT NULL"))
        return set(photos) | set(templates.scalars())


def test_rotate_then_reencrypt_moves_every_face_and_the_old_key_can_go(container, settings, enrol, open_prompt,
                                                                       device, face_jpeg, client, case, monkeypatch):
    monkeypatch.setenv("CUSTODES_DATABASE_URL", settings.database_url)
    home = ["--home", str(settings.home)]
    runner = CliRunner()
    old = enrol()["key_id"]
    assert _keys_in_use(container) == {old}

    rotated = runner.invoke(app, ["checkins", "rotate-key", *home])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.output)["active_key"]
    assert new != old
    # The running server picks the new key up at once: new data is sealed with it.
    assert enrol([GATES["probe"], *GATES["enrol"][:2]])["key_id"] == new
    assert _keys_in_use(container) == {old, new}

    moved = runner.invoke(app, ["checkins", "reencrypt", *home, "--batch", "1"])
    assert moved.exit_code == 0, moved.output
    summary = json.loads(moved.output.strip().splitlines()[-1])
    assert summary["moved"] == {"photos": 3, "templates": 1} and set(summary["rows_by_key"]) == {new}
    assert _keys_in_use(container) == {new}
    with container.engine.connect() as conn:
        reads = conn.execute(sa.text("SELECT count(*) FROM audit_entries WHERE action = 'read' AND purpose = "
                                     "'re-encryption under the active face key'")).scalar_one()
    assert reads == 4

    # Retire the old key: everything still opens, and a check-in still verifies against the template.
    (settings.key_dir / f"face_{old}.key").unlink()
    prompt = open_prompt()
    photo, frames = challenge_frames(face_jpeg, GATES, prompt["challenge"]["kind"])
    r = device("POST", f"/{prompt['prompt_id']}", [("photo", photo)] + [("frames", f) for f in frames])
    assert r.status_code == 200 and r.json()["outcome"] == "verified", r.text
