"""The audit log's own retention: old entries are pruned from the front below a signed checkpoint,
the rest still verifies, and a checkpoint cannot be moved without the key."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit import chain
from custodes.audit.models import AuditAction, AuditCheckpoint, AuditEntry
from custodes.bootstrap import bootstrap
from custodes.config import RETENTION_GRACE_DAYS, Settings
from custodes.retention import scheduled
from custodes.retention.models import DeletionReceipt


def _entries(c, n):
    with c.uow(Actor.system("test")) as uow:
        for i in range(n):
            uow.record(AuditAction.READ, "thing", None, detail={"i": i})
        uow.commit()


def _verify(c):
    with c.uow(Actor.system("test")) as uow:
        return list(chain.verify(uow.session, c.audit_key)), chain.count(uow.session)


def test_old_entries_are_pruned_below_a_signed_checkpoint_and_the_chain_still_verifies(settings, clock):
    c = bootstrap(Settings(home=settings.home, database_url=settings.database_url,
                           retention_grace_days={**RETENTION_GRACE_DAYS, "audit_log": 30}), clock)
    try:
        back = clock.now()
        clock.set(back - timedelta(days=40))
        _entries(c, 7)
        clock.set(back)
        _entries(c, 3)
        summary = scheduled.run(c, batch_size=2)
        assert summary.deleted["audit_log"] == 7
        items, walked = _verify(c)
        assert all(isinstance(i, int) for i in items) and items[0] == 8 and walked == len(items)
        # Entries above the checkpoint stay append-only in the database itself.
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with c.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM audit_entries WHERE seq = 9"))
        with c.uow(Actor.system("test")) as uow:
            assert uow.session.scalars(select(AuditEntry.seq).where(AuditEntry.seq <= 7)).all() == []
            cps = uow.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
            assert [cp.seq for cp in cps] == [2, 4, 6, 7]
            receipt = uow.session.scalars(select(DeletionReceipt)).one()
            assert (receipt.data_class, receipt.subject_id, receipt.records) == ("audit_log", None, 7)
            # Moving the checkpoint forward (to hide entry 8) breaks verification without the key.
            eight = uow.session.get(AuditEntry, 8)
            uow.session.add(AuditCheckpoint(seq=8, hash=eight.hash, pruned_before=cps[-1].pruned_before,
                                            made_at=cps[-1].made_at, signature=cps[-1].signature))
            uow.session.delete(eight)
            uow.session.commit()
        items, _ = _verify(c)
        assert isinstance(items[-1], chain.ChainFault) and "checkpoint" in items[-1].reason
    finally:
        c.close()


def test_entries_younger_than_the_retention_are_kept(container, clock):
    _entries(container, 5)
    clock.advance(timedelta(days=365))
    summary = scheduled.run(container)
    assert "audit_log" not in summary.deleted
    items, _ = _verify(container)
    assert items[0] == 1 and all(isinstance(i, int) for i in items)
