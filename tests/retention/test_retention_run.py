"""`retention run` deletes exactly what is due, keeps what a legal hold keeps, leaves exact receipts
that outlive the data, and keeps the audit chain verifiable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.audit import chain
from custodes.audit.models import AuditEntry
from custodes.orders import service as orders
from custodes.orders.models import Order, OrderUpdate
from custodes.lab.population import caseworker
from custodes.lab.retention_bench import bulk_trail
from custodes.retention import scheduled
from custodes.retention.policy import SIX_YEARS
from custodes.retention.models import DeletionReceipt, LegalHold

from .conftest import HELD, held

NOTHING = {**{k: 0 for k in HELD}, "subject": 0}
EVERYTHING = {**HELD, "subject": 1}
# Ended 100 days ago: raw batches (30 d), trail (90 d), probe photos (30 d) and templates (0 d) are due;
# alerts and reviews (365 d) and the record (730 d) are not.
AFTER_100_DAYS = {**HELD, "subject": 1, "telemetry_batches": 0, "trail_fixes": 0, "probe_photos": 0,
                  "face_enrolments": 0, "reference_photos": 0}


def _hold(container, agencies, subject_id, data_class=None):
    with container.uow(caseworker(agencies["home_office"])) as uow:
        uow.session.add(LegalHold(subject_id=subject_id, data_class=data_class, reason="pending appeal",
                                  placed_at=uow.clock.now()))
        uow.commit()


def test_run_deletes_exactly_what_is_due_and_nothing_on_hold(container, clock, agencies, person_ending):
    gone = person_ending(3 * 365)          # everything is due
    partly = person_ending(100)            # the short clocks only
    live = person_ending(-30)              # order still running
    trail_held = person_ending(3 * 365)    # everything due, but the trail is held
    all_held = person_ending(3 * 365)      # everything due, all held
    revoked = person_ending(-200)          # order ends in future, but was revoked 100 days ago
    _hold(container, agencies, trail_held.subject_id, "trail")
    _hold(container, agencies, all_held.subject_id)
    back = clock.now()
    clock.set(back - timedelta(days=100))
    with container.uow(caseworker(agencies["home_office"])) as uow:
        order_id = uow.session.scalars(select(Order.id).where(Order.subject_id == revoked.subject_id)).one()
        orders.update(uow=uow, order_id=order_id, data=OrderUpdate(status="revoked"))
        uow.commit()
    clock.set(back)
    before = {p.subject_id: held(container, p.subject_id) for p in (gone, partly, live, trail_held, all_held, revoked)}
    assert list(before.values()) == [EVERYTHING] * 6

    dry = scheduled.run(container, dry_run=True)
    assert dry.run_id is None and not dry.deleted
    assert held(container, gone.subject_id) == EVERYTHING

    summary = scheduled.run(container, batch_size=3)  # tiny batches: every class needs several transactions
    assert held(container, gone.subject_id) == NOTHING
    assert held(container, partly.subject_id) == AFTER_100_DAYS
    assert held(container, revoked.subject_id) == AFTER_100_DAYS
    assert held(container, live.subject_id) == EVERYTHING
    assert held(container, trail_held.subject_id) == {**NOTHING, "trail_fixes": HELD["trail_fixes"], "subject": 1,
                                                      "telemetry_batches": 0}
    assert held(container, all_held.subject_id) == EVERYTHING
    assert {(str(d.data_class), d.subject_id) for d in summary.held} == {
        ("trail", trail_held.subject_id), ("subject_record", trail_held.subject_id),
        *{(c, all_held.subject_id) for c in ("face_templates", "checkin_photos", "telemetry_batches", "trail",
                                               "alerts", "reviews", "subject_record")}}

    with container.uow(Actor.system("test")) as uow:
        receipts = uow.session.scalars(select(DeletionReceipt)).all()
        mine = {(r.data_class, r.records) for r in receipts if r.subject_id == gone.subject_id}
        assert mine == {("face_templates", 2), ("checkin_photos", 2), ("telemetry_batches", 2), ("trail", 20),
                        ("alerts", 2), ("reviews", 1), ("subject_record", 1)}
        assert all(r.completed_at is not None and r.run_id == summary.run_id for r in receipts)
        assert {r.subject_id for r in receipts} == {gone.subject_id, partly.subject_id, revoked.subject_id,
                                                    trail_held.subject_id}
        deletions = uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type.like("retention:%"))).all()
        assert len(deletions) == len(receipts)
        assert all(isinstance(i, int) for i in chain.verify(uow.session, container.audit_key))

    again = scheduled.run(container)
    assert not again.deleted  # nothing more is due


def test_lifting_a_hold_lets_the_next_run_delete(container, agencies, person_ending):
    p = person_ending(3 * 365)
    _hold(container, agencies, p.subject_id)
    scheduled.run(container)
    assert held(container, p.subject_id) == EVERYTHING
    with container.uow(caseworker(agencies["home_office"])) as uow:
        hold = uow.session.scalars(select(LegalHold)).one()
        hold.lifted_at = uow.clock.now()
        uow.commit()
    scheduled.run(container)
    assert held(container, p.subject_id) == NOTHING


def test_nothing_outlives_six_years_even_while_the_order_runs(container, clock, person_ending):
    p = person_ending(-30)  # live order
    old_start = clock.now() - SIX_YEARS - timedelta(days=2)
    bulk_trail(container, p.subject_id, p.device_id, start=old_start, fixes=2 * 1440, per_segment=60)
    assert held(container, p.subject_id)["trail_fixes"] == HELD["trail_fixes"] + 2 * 1440
    summary = scheduled.run(container)
    assert summary.deleted == {"trail": 2 * 1440}
    assert held(container, p.subject_id) == EVERYTHING  # the recent trail and everything else stay
    with container.uow(Actor.system("test")) as uow:
        receipt = uow.session.scalars(select(DeletionReceipt)).one()
    assert (receipt.data_class, receipt.records, receipt.policy) == ("trail", 2 * 1440, "record age > six years")
