"""Appending to and verifying the hash chain.

Each entry's hash is HMAC-SHA256, under a server key kept outside the database, of the previous
hash and the entry's own fields; so editing, deleting or reordering any entry breaks the chain, and
someone holding only the database cannot forge a consistent replacement.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from custodes.audit.models import AuditCheckpoint, AuditEntry, AuditHead

GENESIS = "0" * 64


@dataclass(frozen=True)
class PendingEntry:
    at: datetime
    actor_kind: str
    actor_id: str | None
    actor_name: str | None
    agency_id: Any
    action: str
    target_type: str
    target_id: str | None
    purpose: str | None
    detail: dict[str, Any]


def _canonical(seq: int, e: PendingEntry | AuditEntry) -> bytes:
    body = {
        "seq": seq,
        "at": e.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "agency_id": str(e.agency_id) if e.agency_id else None,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "purpose": e.purpose,
        "detail": e.detail or {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(key: bytes, prev_hash: str, seq: int, e: PendingEntry | AuditEntry) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + _canonical(seq, e), hashlib.sha256).hexdigest()


def _lock_chain(session: Session) -> None:
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs one for the chain.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7268411)"))


def append(session: Session, key: bytes, entries: Iterable[PendingEntry]) -> None:
    entries = list(entries)
    if not entries:
        return
    _lock_chain(session)
    head = session.get(AuditHead, 1, populate_existing=True)
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    rows = []
    for e in entries:
        seq += 1
        h = entry_hash(key, prev, seq, e)
        rows.append(AuditEntry(seq=seq, prev_hash=prev, hash=h, **e.__dict__))
        prev = h
    session.add_all(rows)
    if head is None:
        session.add(AuditHead(id=1, seq=seq, hash=prev))
    else:
        head.seq, head.hash = seq, prev


@dataclass(frozen=True)
class ChainFault:
    seq: int
    reason: str


def checkpoint_signature(key: bytes, seq: int, hash_: str, pruned_before: datetime, made_at: datetime) -> str:
    body = f"checkpoint\n{seq}\n{hash_}\n{pruned_before.astimezone(UTC).isoformat()}\n" \
           f"{made_at.astimezone(UTC).isoformat()}"
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)).first()


def verify(session: Session, key: bytes, batch: int = 5000,
           anchored: dict[int, str] | None = None) -> Iterator[int | ChainFault]:
    """Yield each verified seq; yield a ChainFault at the first bad entry and stop. The chain starts
    at genesis, or after the latest signed retention checkpoint (entries below it were pruned).

    `anchored` (seq -> hash, from signed checkpoints kept outside the database) must all still be
    in the chain with those hashes: the head row alone can be moved by whoever can write the table.
    Anchors below the retention checkpoint vouch for entries pruned on purpose and are not sought.
    """
    anchored = anchored or {}
    expected_seq, prev = 1, GENESIS
    cp = latest_checkpoint(session)
    if cp is not None:
        if not hmac.compare_digest(cp.signature, checkpoint_signature(key, cp.seq, cp.hash, cp.pruned_before,
                                                                      cp.made_at)):
            yield ChainFault(cp.seq, "retention checkpoint signature does not match (checkpoint was altered)")
            return
        if cp.seq in anchored and anchored[cp.seq] != cp.hash:
            yield ChainFault(cp.seq, "retention checkpoint differs from the signed anchor at the same entry")
            return
        expected_seq, prev = cp.seq + 1, cp.hash
    last_seen = expected_seq - 1
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq >= last_seen + 1).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                yield ChainFault(expected_seq, f"entry {expected_seq} is missing (next present is {row.seq})")
                return
            if row.prev_hash != prev:
                yield ChainFault(row.seq, "previous-hash link does not match the entry before it")
                return
            if not hmac.compare_digest(row.hash, entry_hash(key, prev, row.seq, row)):
                yield ChainFault(row.seq, "content does not match its hash (entry was altered)")
                return
            if row.seq in anchored and anchored[row.seq] != row.hash:
                yield ChainFault(row.seq, "hash differs from the signed checkpoint (chain replaced from here)")
                return
            prev, expected_seq, last_seen = row.hash, row.seq + 1, row.seq
            yield row.seq
        session.expunge_all()
    beyond = max(anchored, default=0)
    if beyond > last_seen:
        yield ChainFault(last_seen + 1, f"chain ends at {last_seen} but a signed checkpoint vouches for "
                                        f"{beyond} entries: entries removed from the end")
        return
    head = session.get(AuditHead, 1)
    if head is None and last_seen:
        yield ChainFault(last_seen, "chain head record is missing")
    elif head is not None and (head.seq != last_seen or head.hash != prev):
        yield ChainFault(last_seen + 1, f"chain ends at {last_seen} but head says {head.seq}: entries removed")

def count(session: Session) -> int:
    """How many entries verification walks: those after the latest retention checkpoint."""
    head = session.get(AuditHead, 1)
    cp = latest_checkpoint(session)
    return (head.seq if head else 0) - (cp.seq if cp else 0)
