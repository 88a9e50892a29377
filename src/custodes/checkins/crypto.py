"""Encryption at rest for face templates and photos: AES-256-GCM under a rotating key ring.

Keys live outside the database (a 0600 file per key under the key folder, or the environment),
so a database dump alone reveals no face. Every ciphertext is stored with the id of the key that
sealed it, which is what makes rotation possible: new data is sealed with the active key, and
`custodes checkins reencrypt` re-seals older rows before an old key is retired. The associated
data binds each ciphertext to its row, so a blob copied onto another subject's row fails to open.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custodes.keys import load_secret

FORMAT = b"\x01"  # leading byte of each blob, so the layout can change later without guessing
NONCE_BYTES = 12
ACTIVE_FILE = "face.active"
_KID = re.compile(r"^[a-z0-9]{4,40}$")


class FaceKeyError(RuntimeError):
    """The key ring cannot seal or open a blob (missing key, tampered or misplaced ciphertext)."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes


def _secret_name(key_id: str) -> str:
    return f"face_{key_id}"


def new_key_id(now: datetime) -> str:
    return f"k{now:%Y%m%d}{secrets.token_hex(3)}"


class FaceKeyRing:
    """The face keys this process can use; one of them (the active one) seals new data."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise FaceKeyError(f"active face key {active!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise FaceKeyError(f"face key {kid!r} must be 32 bytes, not {len(key)}")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._ciphers)

    @classmethod
    def load(cls, key_dir: Path, now: datetime | None = None) -> FaceKeyRing:
        """Read every face key from `key_dir` and the environment.

        Environment: `CUSTODES_FACE_KEY_IDS=k1,k2` lists ids whose secrets are in
        `CUSTODES_FACE_<ID>_KEY`; `CUSTODES_FACE_ACTIVE_KEY` names the active one. Otherwise the
        key folder's `face_<id>.key` files are used and `face.active` names the active one. With
        no key at all, a first key is made (file, mode 0600), as the other server keys are.
        """
        ids = {kid.strip() for kid in os.environ.get("CUSTODES_FACE_KEY_IDS", "").split(",") if kid.strip()}
        if key_dir.is_dir():
            ids |= {p.name[len("face_"):-len(".key")] for p in key_dir.glob("face_*.key")}
        active = os.environ.get("CUSTODES_FACE_ACTIVE_KEY", "").strip()
        marker = key_dir / ACTIVE_FILE
        if not active and marker.exists():
            active = marker.read_text().strip()
        if not ids and not active:
            if now is None:
                raise FaceKeyError("no face key yet: run `custodes checkins rotate-key` to make one")
            active = rotate(key_dir, now)
            ids = {active}
        ids.add(active)
        for kid in ids:
            if not _KID.match(kid):
                raise FaceKeyError(f"bad face key id {kid!r}")
            env = f"CUSTODES_{_secret_name(kid).upper()}_KEY"
            if env not in os.environ and not (key_dir / f"{_secret_name(kid)}.key").exists():
                # load_secret would mint a fresh key here, silently orphaning this id's data.
                raise FaceKeyError(f"face key {kid!r} is named but neither {env} nor its key file exists")
        return cls({kid: load_secret(_secret_name(kid), key_dir) for kid in ids}, active)

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)  # 96-bit random nonces: safe far beyond our volumes
        ct = self._ciphers[self.active].encrypt(nonce, plaintext, context.encode())
        return Sealed(self.active, FORMAT + nonce + ct)

    def open(self, sealed: Sealed, context: str) -> bytes:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise FaceKeyError(f"face key {sealed.key_id!r} is not available to this server")
        blob = sealed.blob
        if blob[:1] != FORMAT or len(blob) < 1 + NONCE_BYTES + 16:
            raise FaceKeyError("not a Custodes face ciphertext")
        try:
            return cipher.decrypt(blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise FaceKeyError("face ciphertext failed authentication (tampered or on the wrong row)") from exc

    def rewrap(self, sealed: Sealed, context: str) -> Sealed:
        """Re-seal under the active key; a blob already under it is returned unchanged."""
        if sealed.key_id == self.active:
            return sealed
        return self.seal(self.open(sealed, context), context)


def rotate(key_dir: Path, now: datetime) -> str:
    """Make a new face key (a 0600 file) and make it the active one. Old keys stay readable."""
    kid = new_key_id(now)
    load_secret(_secret_name(kid), key_dir)
    tmp = key_dir / f".{ACTIVE_FILE}.{kid}"
    tmp.write_text(kid + "\n")
    os.replace(tmp, key_dir / ACTIVE_FILE)  # atomic: readers see the old or the new id, never half
    return kid
