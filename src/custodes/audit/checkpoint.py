"""Retention of the audit log itself: prune the oldest entries below a signed checkpoint.

The chain cannot lose an entry from its middle, and pseudonymising an entry in place would break
its hash; so the log is kept whole for its retention period (by each entry's own age, six years by
default) and then cut from the front only. Each cut deletes a contiguous prefix and, in the same
transaction, records a checkpoint holding the last pruned entry's seq and hash, signed with the
audit key. `verify` starts from the latest checkpoint, so `custodes audit verify` still proves the
remaining log intact, and no one can prune (or hide) entries without the key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from custodes.audit.chain import checkpoint_signature, latest_checkpoint
from custodes.audit.models import AuditCheckpoint, AuditEntry, AuditHead


def prunable_through(session: Session, cutoff: datetime) -> tuple[int, int]:
    """(from_seq, through_seq]: the prefix of entries all older than `cutoff` not yet pruned."""
    cp = latest_checkpoint(session)
    start = cp.seq if cp else 0
    head = session.get(AuditHead, 1)
    if head is None:
        return start, start
    first_young = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq > start,
                                                                          AuditEntry.at >= cutoff))
    return start, (first_young - 1) if first_young is not None else head.seq


def prune_batch(session: Session, key: bytes, cutoff: datetime, *, limit: int, now: datetime) -> int:
    """Prune up to `limit` of the oldest entries older than `cutoff`; the number pruned."""
    start, through = prunable_through(session, cutoff)
    upto = min(through, start + limit)
    if upto <= start:
        return 0
    last = session.get(AuditEntry, upto)
    if last is None:
        raise RuntimeError(f"audit entry {upto} is missing: run `custodes audit verify`")
    sig = checkpoint_signature(key, upto, last.hash, cutoff, now)
    session.add(AuditCheckpoint(seq=upto, hash=last.hash, pruned_before=cutoff, made_at=now, signature=sig))
    session.flush()  # the database lets entries go only below a checkpoint it already holds
    session.execute(delete(AuditEntry).where(AuditEntry.seq > start, AuditEntry.seq <= upto))
    return upto - start
