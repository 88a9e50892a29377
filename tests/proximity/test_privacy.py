"""Victim proximity end to end: the protected phone feeds no trail and keeps one position, an
approach raises one alert carrying the distance, and no officer route returns that position."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.audit.models import AuditEntry
from custodes.devices.models import Assignment
from custodes.lab.device_client import encode, fix
from custodes.lab.population import enrol
from custodes.orders.models import Order
from custodes.proximity.models import (
    ProtectedPerson,
    ProtectedPosition,
    ProximityCondition,
)
from custodes.telemetry.models import TelemetryBatch
from custodes.telemetry.pipeline import Pipeline
from tests.telemetry.conftest import HOME, ORDER_END, ORDER_START

VICTIM = (51.502713, -0.119871)  # ~300 m from the monitored person's home; digits found nowhere else
ROLES = ("caseworker", "reviewer", "probation", "police", "auditor", "admin")


def upload(client, clock, who, seq, items):
    body = encode(seq, items)
    r = client.post(who.client.path, content=body, headers=who.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def walk(clock, start_s, n, where, step_s=10, acc=5.0):
    t0 = clock.now() - timedelta(seconds=start_s)
    return [fix(t0 + timedelta(seconds=i * step_s), where[0], where[1], acc) for i in range(n)]


def protect(container, agencies, monitored, clock, radius_m=500.0):
    """The protected person's phone (a device of their own, worn by nobody) and the condition."""
    # A registered device with its signing secret (enrolled elsewhere, then unassigned: worn by nobody).
    victim = enrol(container, agencies["home_office"], home=(51.6, -0.3), since=ORDER_START, until=ORDER_END,
                   curfew=None)
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        s.execute(delete(Assignment).where(Assignment.device_id == victim.device_id))
        p = ProtectedPerson(agency_id=agencies["home_office"], device_id=victim.device_id,
                            consent_given_at=clock.now(), consent_recorded_by="victim liaison officer",
                            consent_note="signed consent form, copy on file", created_at=clock.now())
        s.add(p)
        s.flush()
        order = s.scalars(select(Order).where(Order.subject_id == monitored.subject_id)).one()
        s.add(ProximityCondition(order_id=order.id, protected_id=p.id, radius_m=radius_m, max_skew_s=180,
                                 min_dwell_s=60, created_at=clock.now()))
        uow.commit()
        return victim, p.id


def test_an_approach_raises_one_alert_and_the_protected_position_is_kept_once(client, clock, container, person,
                                                                              agencies, rows):
    victim, _ = protect(container, agencies, person, clock)
    upload(client, clock, victim, 1, walk(clock, 600, 30, VICTIM, step_s=20))
    Pipeline(container).run_once()
    upload(client, clock, victim, 2, walk(clock, 120, 6, VICTIM, step_s=20))
    Pipeline(container).run_once()
    assert rows("trail_segments") == 0  # the protected phone never feeds a trail
    upload(client, clock, person, 1, walk(clock, 290, 30, HOME))
    Pipeline(container).run_once()
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        got = s.scalars(select(Alert).where(Alert.kind.like("proximity%"))).all()
        kept = s.scalars(select(ProtectedPosition)).all()
        raws = s.scalars(select(TelemetryBatch.raw).where(TelemetryBatch.device_id == victim.device_id)).all()
        reads = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.target_type == "protected_position", AuditEntry.action == "read"))
    assert [a.kind for a in got] == ["proximity_entered"]
    assert got[0].evidence["distance_m"] < 500 and "lat" not in got[0].evidence
    assert len(kept) == 1 and kept[0].at == clock.now() - timedelta(seconds=20)  # the newest, overwritten
    assert raws and all(r == b"" for r in raws)  # no raw copy of the protected person's positions
    assert reads >= 1  # every use by the rules is audited
    assert rows("trail_segments") == 1  # the monitored person's own trail only


def test_a_stale_protected_position_raises_nothing(client, clock, container, person, agencies):
    victim, _ = protect(container, agencies, person, clock)
    upload(client, clock, victim, 1, walk(clock, 3600, 10, VICTIM))  # an hour old
    Pipeline(container).run_once()
    upload(client, clock, person, 1, walk(clock, 290, 30, HOME))
    Pipeline(container).run_once()
    with container.uow(Actor.system("test")) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Alert).where(Alert.kind.like("proximity%"))) == 0


def test_no_officer_route_returns_the_protected_position(client, clock, container, person, agencies, officer):
    victim, pid = protect(container, agencies, person, clock)
    upload(client, clock, victim, 1, walk(clock, 300, 10, VICTIM))
    Pipeline(container).run_once()
    upload(client, clock, person, 1, walk(clock, 290, 30, HOME))
    Pipeline(container).run_once()
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        assert s.get(ProtectedPosition, pid) is not None  # seeded: there is something to leak
        ids = {"subject_id": [person.subject_id, victim.subject_id], "device_id": [person.device_id, victim.device_id],
               "alert_id": list(s.scalars(select(Alert.id))), "order_id": list(s.scalars(select(Order.id)))}
    others = [pid, *{i for v in ids.values() for i in v}]
    needles = [f"{VICTIM[0]:.4f}", f"{VICTIM[1]:.4f}"]
    # Every GET route of the API, from its OpenAPI description (included routers and all).
    # Live streams never end; the alert stream sends the same AlertRead as GET /v1/alerts, scanned here.
    routes = [p for p, ops in client.app.openapi()["paths"].items() if "get" in ops and p.startswith("/v1/")
              and "text/event-stream" not in ops["get"].get("responses", {}).get("200", {}).get("content", {})]
    checked = set()
    for role in ROLES:
        headers = officer(role)
        for route in routes:
            names = re.findall(r"{(\w+)}", route)
            pool = [ids.get(n, others) for n in names]
            for values in (zip(*[(p * len(others))[:len(others)] for p in pool]) if names else [()]):
                path = route
                for n, v in zip(names, values):
                    path = path.replace("{" + n + "}", str(v))
                params = {"since": (clock.now() - timedelta(days=1)).isoformat(), "until": clock.now().isoformat()}
                resp = client.get(path, headers=headers, params=params)
                assert resp.status_code < 500, (role, path, resp.text[:200])
                for needle in needles:
                    assert needle not in resp.text, (role, path)
                checked.add(route)
    assert {p for p in checked if "alert" in p} and {p for p in checked if "trail" in p}
    assert {p for p in checked if "audit" in p} and {p for p in checked if "subject" in p}
    assert {p for p in checked if "device" in p}
    assert uuid.UUID(str(pid))
