"""The subject's timeline, on both databases: fixes by hour, device status, alerts and decisions, reviews."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor, Role
from custodes.access.models import User
from custodes.alerts import service as alerts
from custodes.alerts.models import Alert, AlertResolve
from custodes.console import timeline
from custodes.lab import console_scenario
from custodes.orders import service as orders
from custodes.orders.models import Order, OrderUpdate
from custodes.subjects import service as subjects
from custodes.telemetry import trail


def test_timeline_tells_the_week_in_order(container):
    # Three days, so that the scenario's visit to Zone B (two days before now) is in it.
    sc = console_scenario.seed(container, days=3, step_s=600)
    with container.uow(Actor.system("test")) as uow:
        casey = uow.session.scalars(select(User).where(User.username == "casey")).one()
        alert_id = uow.session.scalars(select(Alert.id).where(Alert.subject_id == sc.subject_id)).one()
        order_id = uow.session.scalars(select(Order.id).where(Order.subject_id == sc.subject_id)).one()
    officer = Actor(kind="user", id=str(casey.id), name="casey", agency_id=casey.agency_id, role=Role.CASEWORKER)
    container.clock.advance(timedelta(minutes=5))
    with container.uow(officer) as uow:
        alerts.resolve(uow=uow, alert_id=alert_id, data=AlertResolve(outcome="breach_confirmed",
                                                                     reason="inside Zone B for an hour"))
        orders.update(uow=uow, order_id=order_id, data=OrderUpdate(reviewed=True))
        uow.commit()
    container.clock.advance(timedelta(minutes=1))
    now = container.clock.now()
    with container.uow(officer) as uow:
        subject = subjects.load(uow=uow, subject_id=sc.subject_id)
        points = trail.read(uow.session, subject.id, now - timedelta(days=3), now)
        events = timeline.build(uow=uow, subject=subject, t_from=now - timedelta(days=3), t_to=now, points=points)
        without_trail = timeline.build(uow=uow, subject=subject, t_from=now - timedelta(days=3), t_to=now,
                                       points=None)
    kinds = {e.kind for e in events}
    assert {"fixes", "status", "alert", "decision", "review"} <= kinds
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    text = [e.text for e in events]
    assert "alert exclusion zone entered resolved by casey: breach confirmed — inside Zone B for an hour" in text
    assert "quarterly review recorded by casey" in text
    assert any(t.startswith("6 fixes in the hour, accuracy") for t in text)
    assert "fixes" not in {e.kind for e in without_trail}  # no trail read, no fixes
