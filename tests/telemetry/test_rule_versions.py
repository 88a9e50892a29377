"""Rule changes take effect at once on every worker, and each alert records the version it was judged by."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix
from custodes.telemetry.pipeline import Pipeline

from .conftest import HOME


def upload(client, clock, person, seq, start_s, n=12):
    t0 = clock.now() - timedelta(seconds=start_s)
    body = encode(seq, [fix(t0 + timedelta(seconds=10 * i), *HOME, 5.0) for i in range(n)])
    r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
    assert r.status_code == 202, r.text


def test_an_edited_zone_applies_to_the_next_fix(client, clock, container, person, officer):
    worker_a, worker_b = Pipeline(container), Pipeline(container)  # two workers, each with its own cache
    upload(client, clock, person, 1, start_s=900)
    worker_a.run_once()
    worker_b.warm()
    cw = officer("caseworker")
    order = client.get(f"/v1/subjects/{person.subject_id}/orders", headers=cw).json()["items"][0]
    conditions = client.get(f"/v1/orders/{order['id']}/conditions", headers=cw).json()
    zone = next(c for c in conditions if c["spec"].get("zone_type") == "exclusion")
    assert zone["revision"] == 1
    # The exclusion zone moves onto the person's home: the next fixes there are inside it.
    moved = {"spec": {**zone["spec"], "geometry": None, "circle": {"lat": HOME[0], "lon": HOME[1], "radius_m": 400}}}
    r = client.put(f"/v1/conditions/{zone['id']}", json=moved, headers=cw)
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 2
    upload(client, clock, person, 2, start_s=400)
    assert worker_b.run_once().batches == 1
    with container.uow(Actor.system("test")) as uow:
        alerts = uow.session.scalars(select(Alert).where(Alert.kind == "exclusion_zone_entered")).all()
    assert len(alerts) == 1
    ev = alerts[0].evidence
    assert ev["zone_id"] == zone["id"] and ev["condition_revision"] == 2 and len(ev["rules_version"]) == 16
