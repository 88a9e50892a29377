"""The retention run: delete what is due, batch by batch, leaving a receipt for each class deleted.

Every batch is its own short transaction that deletes at most `batch_size` rows by key and adds
its count to the receipt in the same commit (so the receipt is exact even if the run stops); a
class is finished, stamped complete and audited once when a batch finds nothing left.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from custodes.actor import Actor
from custodes.audit.checkpoint import prune_batch
from custodes.audit.models import AuditAction
from custodes.bootstrap import Container
from custodes.retention import deletion
from custodes.retention.models import DeletionReceipt
from custodes.retention.policy import DataClass, RetentionPolicy
from custodes.retention.service import Due, plan

BATCH = 500  # rows a transaction deletes: a few milliseconds of work, whatever the trail's size


@dataclass
class RunSummary:
    run_id: uuid.UUID | None
    dry_run: bool
    due: list[Due]
    deleted: Counter = field(default_factory=Counter)  # class -> records
    receipts: list[uuid.UUID] = field(default_factory=list)

    @property
    def held(self) -> list[Due]:
        return [d for d in self.due if d.held_by]

    def to_dict(self) -> dict:
        due = Counter()
        for d in self.due:
            if not d.held_by:
                due[str(d.data_class)] += d.records
        return {"run_id": str(self.run_id) if self.run_id else None, "dry_run": self.dry_run,
                "due_records": dict(due), "deleted_records": {str(k): v for k, v in self.deleted.items()},
                "held": [{"data_class": str(d.data_class), "subject_id": str(d.subject_id), "records": d.records,
                          "holds": [str(h) for h in d.held_by]} for d in self.held],
                "receipts": [str(r) for r in self.receipts]}


def policy_of(container: Container) -> RetentionPolicy:
    return RetentionPolicy.from_settings(container.settings.retention_grace_days)


def due_now(container: Container) -> list[Due]:
    policy = policy_of(container)
    with container.uow(Actor.system("retention")) as uow:
        return plan(uow.session, policy, uow.clock.now())


def run(container: Container, *, dry_run: bool = False, batch_size: int = BATCH,
        on_plan: Callable[[list[Due]], None] | None = None,
        on_progress: Callable[[Due, int], None] | None = None) -> RunSummary:
    policy = policy_of(container)
    items = due_now(container)
    if on_plan:
        on_plan(items)
    summary = RunSummary(run_id=None if dry_run else uuid.uuid4(), dry_run=dry_run, due=items)
    if dry_run:
        return summary
    for item in items:
        if item.held_by:
            continue
        receipt = delete_class(container, item, policy=policy, run_id=summary.run_id, batch_size=batch_size,
                               on_progress=on_progress)
        summary.deleted[item.data_class] += receipt[1]
        summary.receipts.append(receipt[0])
    return summary


def delete_class(container: Container, item: Due, *, policy: RetentionPolicy, run_id: uuid.UUID,
                 batch_size: int = BATCH, on_progress: Callable[[Due, int], None] | None = None
                 ) -> tuple[uuid.UUID, int]:
    """Delete one due class of one subject (or the audit log's prefix); (receipt id, records)."""
    receipt_id, total = uuid.uuid4(), 0
    actor = Actor.system("retention")
    while True:
        with container.uow(actor) as uow:
            now = uow.clock.now()
            if item.data_class is DataClass.AUDIT_LOG:
                n = prune_batch(uow.session, container.audit_key, item.due_at, limit=batch_size, now=now)
            else:
                n = deletion.delete_batch(uow.session, item.data_class, item.subject_id, limit=batch_size, now=now,
                                          before=item.before)
            receipt = uow.session.get(DeletionReceipt, receipt_id)
            if receipt is None:
                receipt = DeletionReceipt(id=receipt_id, run_id=run_id, data_class=str(item.data_class),
                                          subject_id=item.subject_id, records=0,
                                          policy=policy.describe(item.data_class) if item.before is None
                                          else "record age > six years", due_at=item.due_at,
                                          started_at=now)
                uow.session.add(receipt)
            receipt.records += n
            total += n
            if n == 0:
                receipt.completed_at = now
                uow.record(AuditAction.DELETE, f"retention:{item.data_class}", item.subject_id,
                           detail={"receipt": str(receipt_id), "records": total, "run": str(run_id),
                                   "policy": receipt.policy})
            uow.commit()
        if on_progress and n:
            on_progress(item, n)
        if n == 0:
            return receipt_id, total
