"""Face templates and photos are sealed with AES-GCM under keys kept out of the database."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from custodes.checkins.crypto import FaceKeyError, FaceKeyRing, Sealed, rotate

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
PHOTO = bytes(range(256)) * 400


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CUSTODES_FACE"):
            monkeypatch.delenv(name)


def test_round_trip_and_no_plaintext_in_the_blob(tmp_path: Path) -> None:
    ring = FaceKeyRing.load(tmp_path, NOW)
    sealed = ring.seal(PHOTO, "photo:subject-1:row-1")
    assert sealed.key_id == ring.active
    assert PHOTO[:64] not in sealed.blob
    assert ring.open(sealed, "photo:subject-1:row-1") == PHOTO
    # Same plaintext twice gives different ciphertexts (fresh nonce each time).
    assert ring.seal(PHOTO, "photo:subject-1:row-1").blob != sealed.blob


def test_key_file_is_private_and_ring_reloads_it(tmp_path: Path) -> None:
    ring = FaceKeyRing.load(tmp_path, NOW)
    key_file = tmp_path / f"face_{ring.active}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = ring.seal(b"template", "template:s:r")
    assert FaceKeyRing.load(tmp_path).open(sealed, "template:s:r") == b"template"


def test_blob_moved_to_another_row_or_tampered_does_not_open(tmp_path: Path) -> None:
    ring = FaceKeyRing.load(tmp_path, NOW)
    sealed = ring.seal(b"template", "template:subject-1:row-1")
    with pytest.raises(FaceKeyError, match="authentication"):
        ring.open(sealed, "template:subject-2:row-9")
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    with pytest.raises(FaceKeyError, match="authentication"):
        ring.open(Sealed(sealed.key_id, bytes(flipped)), "template:subject-1:row-1")


def test_rotation_keeps_old_data_readable_and_rewrap_moves_it(tmp_path: Path) -> None:
    ring = FaceKeyRing.load(tmp_path, NOW)
    old = ring.seal(PHOTO, "photo:s:r")
    new_id = rotate(tmp_path, NOW)
    ring2 = FaceKeyRing.load(tmp_path)
    assert ring2.active == new_id != old.key_id
    assert set(ring2.key_ids) == {old.key_id, new_id}
    assert ring2.open(old, "photo:s:r") == PHOTO
    moved = ring2.rewrap(old, "photo:s:r")
    assert moved.key_id == new_id and ring2.rewrap(moved, "photo:s:r") is moved
    # Once rewrapped, the old key can be retired and the data still opens.
    (tmp_path / f"face_{old.key_id}.key").unlink()
    ring3 = FaceKeyRing.load(tmp_path)
    assert ring3.key_ids == [new_id]
    assert ring3.open(moved, "photo:s:r") == PHOTO
    with pytest.raises(FaceKeyError, match="not available"):
        ring3.open(old, "photo:s:r")


def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("CUSTODES_FACE_KEY_IDS", "kenv01")
    monkeypatch.setenv("CUSTODES_FACE_ACTIVE_KEY", "kenv01")
    monkeypatch.setenv("CUSTODES_FACE_KENV01_KEY", key)
    ring = FaceKeyRing.load(tmp_path / "empty")
    assert ring.active == "kenv01"
    assert not (tmp_path / "empty").exists()  # nothing written to disk in environment mode
    assert ring.open(ring.seal(b"x", "c"), "c") == b"x"


def test_named_key_without_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODES_FACE_ACTIVE_KEY", "kmissing1")
    with pytest.raises(FaceKeyError, match="neither"):
        FaceKeyRing.load(tmp_path)


def test_no_key_and_no_clock_asks_for_rotate(tmp_path: Path) -> None:
    with pytest.raises(FaceKeyError, match="rotate-key"):
        FaceKeyRing.load(tmp_path)
