"""Conditions that could not be evaluated, or whose expansion has no bound, are refused with a 422
naming the field, and nothing is stored."""

from __future__ import annotations

import pytest

ALL_HOURS = ",".join(map(str, range(24)))
ALL_MINUTES = ",".join(map(str, range(60)))
RUNAWAY = [
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;INTERVAL=-1",
    "FREQ=WEEKLY;INTERVAL=-3",
    "FREQ=SECONDLY;FREQ=DAILY",
    "FREQ=DAILY;FREQ=SECONDLY",
    "FREQ=DAILY;INTERVAL=1;INTERVAL=0",
    f"FREQ=DAILY;BYHOUR={ALL_HOURS};BYMINUTE={ALL_MINUTES};BYSECOND={ALL_MINUTES}",  # 86,400 a day
    f"FREQ=DAILY;BYMINUTE={ALL_MINUTES}",  # 60 a day
    "FREQ=DAILY;BYEASTER=0",
]
HOME = {"spec": {"kind": "zone", "name": "home", "zone_type": "inclusion",
                 "circle": {"lat": 51.5, "lon": -0.12, "radius_m": 100}}}


def curfew(rrule="FREQ=DAILY", **over):
    return {"spec": {"kind": "curfew", "rrule": rrule, "start_local": "2027-01-04T19:00:00",
                     "duration_minutes": 600, "zone_name": "home", **over}}


@pytest.fixture
def order(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    assert client.post(f"/v1/orders/{o['id']}/conditions", json=HOME, headers=cw).status_code == 201
    return o, cw


def refused(r, field):
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # (pydantic may keep the union's tag in the name: spec.curfew.rrule)
    fields = [e["field"].replace("spec.curfew.", "spec.") for e in r.json()["errors"]]
    assert fields == [field], r.json()


def test_runaway_recurrences_are_refused_naming_the_field(client, order, rows):
    o, cw = order
    before = rows("conditions")
    for rrule in RUNAWAY:
        r = client.post(f"/v1/orders/{o['id']}/conditions", json=curfew(rrule), headers=cw)
        refused(r, "spec.rrule")
    assert rows("conditions") == before


def test_a_curfew_beginning_too_long_ago_is_refused(client, order):
    o, cw = order  # expansions start at start_local: a start centuries back is unbounded work
    r = client.post(f"/v1/orders/{o['id']}/conditions", json=curfew(start_local="1700-01-01T19:00:00"), headers=cw)
    refused(r, "spec.start_local")


def test_a_curfew_needs_an_inclusion_zone(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    r = client.post(f"/v1/orders/{o['id']}/conditions", json=curfew(zone_name=None), headers=cw)
    refused(r, "spec.zone_name")
    assert rows("conditions") == 0


def test_a_zone_a_curfew_needs_cannot_be_renamed_away_or_deleted(client, order):
    o, cw = order
    assert client.post(f"/v1/orders/{o['id']}/conditions", json=curfew(), headers=cw).status_code == 201
    zone = next(c for c in client.get(f"/v1/orders/{o['id']}/conditions", headers=cw).json() if c["kind"] == "zone")
    renamed = {"spec": {**HOME["spec"], "name": "flat"}}
    refused(client.put(f"/v1/conditions/{zone['id']}", json=renamed, headers=cw), "spec.name")
    excl = {"spec": {**HOME["spec"], "zone_type": "exclusion"}}
    refused(client.put(f"/v1/conditions/{zone['id']}", json=excl, headers=cw), "spec.zone_type")
    gone = client.delete(f"/v1/conditions/{zone['id']}", headers=cw)
    assert gone.status_code == 409 and "curfew" in gone.json()["detail"]
    assert client.get(f"/v1/conditions/{zone['id']}", headers=cw).json()["spec"]["name"] == "home"
