"""Signed checkpoints of the audit chain's end, kept outside the database.

The `audit_head` row lives in the database it protects: someone who can write there can delete
the last entries and move the head back (or wipe both) and the chain still links. A checkpoint is
the chain's (seq, hash) at a moment, signed with an Ed25519 key from the key folder, appended to a
JSON-lines file and handed to the outbox for an external receiver. Verifying against the
checkpoints catches what the head row cannot: every anchored seq must still be in the chain with
the anchored hash, so a cut tail, a wiped log or a moved head shows. Entries written after the
latest checkpoint (at most one schedule period) are covered only by the head row.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from custodes.actor import Actor
from custodes.audit import chain
from custodes.audit.models import AuditEntry
from custodes.keys import load_secret

SECRET_NAME = "audit_anchor"
TOPIC = "audit.checkpoint"
FORMAT = 1


class AnchorError(RuntimeError):
    """The checkpoint file is unreadable, forged, or contradicts the chain."""


def default_path(home: Path) -> Path:
    return home / "audit" / "checkpoints.jsonl"


def signing_key(key_dir: Path) -> Ed25519PrivateKey:
    """The checkpoint key (a 32-byte Ed25519 seed, 0600 file like the other server keys); its
    public half is written beside it for external receivers to verify with."""
    key = Ed25519PrivateKey.from_private_bytes(load_secret(SECRET_NAME, key_dir))
    pub = key_dir / f"{SECRET_NAME}.pub"
    if not pub.exists() and not os.environ.get(f"CUSTODES_{SECRET_NAME.upper()}_KEY"):
        pub.write_text(base64.urlsafe_b64encode(_raw_public(key.public_key())).decode() + "\n")
    return key


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in body.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":")).encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    kid: str
    sig: str

    def as_dict(self) -> dict[str, Any]:
        return {"v": FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at, "kid": self.kid, "sig": self.sig}


def sign(key: Ed25519PrivateKey, seq: int, hash_: str, at: datetime) -> Checkpoint:
    body = {"v": FORMAT, "seq": seq, "hash": hash_, "at": at.isoformat(), "kid": key_id(key.public_key())}
    sig = base64.urlsafe_b64encode(key.sign(_signed_bytes(body))).decode()
    return Checkpoint(seq=seq, hash=hash_, at=body["at"], kid=body["kid"], sig=sig)


def read(path: Path, public: Ed25519PublicKey) -> list[Checkpoint]:
    """Every checkpoint in the file, each signature checked, in order; seqs never go back."""
    if not path.is_file():
        raise AnchorError(f"no checkpoint file at {path}")
    out: list[Checkpoint] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
            cp = Checkpoint(seq=int(body["seq"]), hash=str(body["hash"]), at=str(body["at"]),
                            kid=str(body["kid"]), sig=str(body["sig"]))
            public.verify(base64.urlsafe_b64decode(cp.sig), _signed_bytes(body))
        except InvalidSignature:
            raise AnchorError(f"{path} line {n}: signature does not verify (forged or altered checkpoint)") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {n}: not a checkpoint ({exc})") from None
        if out and cp.seq < out[-1].seq:
            raise AnchorError(f"{path} line {n}: checkpoint seq {cp.seq} goes back from {out[-1].seq}")
        out.append(cp)
    return out


def expected_hashes(checkpoints: list[Checkpoint]) -> dict[int, str]:
    """seq -> hash the chain must still hold there; two checkpoints disagreeing on one seq is a fault."""
    want: dict[int, str] = {}
    for cp in checkpoints:
        if want.setdefault(cp.seq, cp.hash) != cp.hash:
            raise AnchorError(f"two signed checkpoints disagree on the hash of entry {cp.seq}")
    return want


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: each write lands at the end whatever else writes the file; never rewritten in place.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _last(path: Path, public: Ed25519PublicKey) -> Checkpoint | None:
    if not path.is_file():
        return None
    found = read(path, public)
    return found[-1] if found else None


def checkpoint(container: Any, path: Path | None = None) -> Checkpoint | None:
    """Sign the chain's current end and append it to the file and the outbox.

    Refuses (AnchorError) if the chain no longer holds the previous checkpoint's entry with its
    hash: anchoring a cut chain would bless the cut. Writes nothing when the chain has not grown.
    """
    path = path or default_path(container.settings.home)
    key = signing_key(container.settings.key_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (server, workers, cron) may checkpoint: one at a time, so seqs never go back.
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _checkpoint_locked(container, key, path)


def _checkpoint_locked(container: Any, key: Ed25519PrivateKey, path: Path) -> Checkpoint | None:
    previous = _last(path, key.public_key())
    with container.uow(Actor.system("audit.checkpoint")) as uow:
        last = uow.session.scalar(select(func.max(AuditEntry.seq))) or 0
        row = uow.session.get(AuditEntry, last) if last else None
        if previous is not None:
            at_prev = uow.session.get(AuditEntry, previous.seq) if previous.seq else None
            pruned = chain.latest_checkpoint(uow.session)  # entries below it were deleted by retention
            if at_prev is None and pruned is not None and previous.seq <= pruned.seq:
                at_prev = previous  # vouched for by the signed retention checkpoint instead
            if previous.seq > last or (previous.seq and (at_prev is None or at_prev.hash != previous.hash)):
                raise AnchorError(f"the chain no longer holds entry {previous.seq} as checkpointed at "
                                  f"{previous.at}: entries were removed or replaced")
            if previous.seq == last:
                return None
        if row is None:
            return None  # an empty chain: nothing to vouch for yet
        cp = sign(key, last, row.hash, uow.clock.now())
        uow.publish(TOPIC, cp.as_dict())
        # The file first: if the commit then fails, a checkpoint of a chain that exists is harmless.
        _append_line(path, json.dumps(cp.as_dict(), sort_keys=True))
        uow.commit()
    return cp
