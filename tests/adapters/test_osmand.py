"""Traccar Client (OsmAnd protocol): real request samples, query string and JSON, give the same trail
as the same positions sent through the native signed API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from custodes.app import create_app
from custodes.lab.device_client import encode, fix

from .conftest import trail_of

KN = 1852 / 3600
# Real requests from Traccar's own decoder tests (OsmAndProtocolDecoderTest), the device id swapped
# for the adapter token, and what each means: (time, lat, lon, accuracy, speed m/s).
QUERIES = [
    ("id={t}&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
     (datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC), 42.06288, -88.23412, 30.0, 0.0)),
    ("id={t}&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
     (datetime(2015, 9, 12, 14, 38, 6, 579000, tzinfo=UTC), 42.06288, -88.23412, 30.0, 0.0)),
    ("lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id={t}",
     (datetime(2014, 6, 4, 9, 10, 11, tzinfo=UTC), 49.60688, 6.15788, 1000.0, 0.0)),
    ("id={t}&timestamp=1377177267&location=60.0,30.0",
     (datetime(2013, 8, 22, 13, 14, 27, tzinfo=UTC), 60.0, 30.0, 1000.0, None)),
    ("id={t}&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40"
     "&ignition=true&rpm=933&fuel=24",
     (datetime(2017, 9, 7, 5, 56, 50, tzinfo=UTC), 40.7232948571, -74.0061408571, 1000.0, 40 * KN)),
    ("id={t}&timestamp=1700000000&lat=51.5007&lon=-0.1246&accuracy=12.5&speed=3.0&batt=87&charge=true",
     (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 51.5007, -0.1246, 12.5, 3.0 * KN)),
]
JSON_BODIES = [
    ('{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,'
     '"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange",'
     '"battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},'
     '"_":"&id={t}&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"{t}"}',
     (datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC), 37.4219983, -122.084, 5.0, 0.0)),
    ('{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75",'
     '"timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,'
     '"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,'
     '"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},'
     '"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"{t}"}',
     (datetime(2021, 7, 21, 8, 6, 34, 444000, tzinfo=UTC), -6.1148096, 106.6837015, 3.8, 18.67)),
]


@pytest.fixture
def token(client, officer, phone) -> str:
    r = client.put(f"/v1/devices/{phone.device_id}/adapter", json={"protocol": "osmand"},
                   headers=officer("caseworker"))
    assert r.status_code == 200, r.text
    return r.json()["token"]


def native(client, clock, tag, expected) -> None:
    """The same positions through the signed native API, one batch each, as the phone sent them."""
    for seq, (at, lat, lon, acc, speed) in enumerate(expected):
        body = encode(seq, [fix(at, lat, lon, acc, speed_mps=speed)])
        r = client.post(tag.client.path, content=body, headers=tag.client.http_headers(body, clock.now()))
        assert r.status_code == 202, r.text


def test_query_samples_give_the_same_trail_as_the_native_api(client, clock, container, token, phone, tag):
    for query, _ in QUERIES:
        r = client.get("/v1/adapters/osmand?" + query.format(t=token))
        assert r.status_code == 200, r.text
    form = QUERIES[0][0].format(t=token)  # Traccar Client may also POST the same as a form
    r = client.post("/v1/adapters/osmand", content=form,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    native(client, clock, tag, [e for _, e in QUERIES])
    assert trail_of(container, phone.subject_id) == trail_of(container, tag.subject_id)
    assert len(trail_of(container, phone.subject_id)) == len(QUERIES)  # the form POST was a resend


def test_json_samples_of_traccar_client_9_give_the_same_trail(client, clock, container, token, phone, tag):
    for body, _ in JSON_BODIES:
        r = client.post("/v1/adapters/osmand", content=body.replace("{t}", token),
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    native(client, clock, tag, [e for _, e in JSON_BODIES])
    assert trail_of(container, phone.subject_id) == trail_of(container, tag.subject_id)


def test_battery_becomes_a_status_report(client, container, token, rows):
    r = client.get("/v1/adapters/osmand?" + QUERIES[-1][0].format(t=token))
    assert r.status_code == 200
    with container.engine.connect() as conn:
        statuses = conn.scalar(text("SELECT statuses FROM telemetry_batches"))
    statuses = json.loads(statuses) if isinstance(statuses, str) else statuses
    assert [(s["battery_pct"], s["charging"], s["strap"]) for s in statuses] == [(87.0, True, "closed")]


def test_unknown_disabled_and_missing_tokens_are_refused(client, officer, phone, token, rows):
    q = QUERIES[0][0]
    assert client.get("/v1/adapters/osmand?" + q.format(t="not-a-token")).status_code == 401
    assert client.get("/v1/adapters/osmand?lat=1&lon=2").status_code == 401
    assert client.delete(f"/v1/devices/{phone.device_id}/adapter", headers=officer("caseworker")).status_code == 204
    assert client.get("/v1/adapters/osmand?" + q.format(t=token)).status_code == 401
    assert rows("telemetry_batches") == 0


def test_adapter_is_off_by_default_and_only_the_holding_agency_turns_it_on(client, officer, phone):
    cw = officer("caseworker")
    assert client.get(f"/v1/devices/{phone.device_id}/adapter", headers=cw).status_code == 404
    other = officer("caseworker", "other_office")
    r = client.put(f"/v1/devices/{phone.device_id}/adapter", json={"protocol": "osmand"}, headers=other)
    assert r.status_code == 404
    r = client.put(f"/v1/devices/{phone.device_id}/adapter", json={"protocol": "osmand"},
                   headers=officer("probation", "probation"))
    assert r.status_code == 403


def test_plain_http_from_outside_is_refused(client, container, token, rows):
    q = "/v1/adapters/osmand?" + QUERIES[0][0].format(t=token)
    r = client.get(q, headers={"X-Forwarded-Proto": "http"})  # a local proxy says it came in plain
    assert r.status_code == 403 and r.json()["type"].endswith("tls-required")
    with TestClient(create_app(container), client=("203.0.113.5", 40000)) as outside:
        assert outside.get(q).status_code == 403
        assert outside.get(q, headers={"X-Forwarded-Proto": "https"})  # not a proxy of ours.status_code == 403
    with TestClient(create_app(container), base_url="https://custodes.test",
                    client=("203.0.113.5", 40000)) as tls:
        assert tls.get(q).status_code == 200
    assert rows("telemetry_batches") == 1


def test_bad_values_get_a_problem_and_store_nothing(client, token, rows):
    for bad in ("lat=abc&lon=1", "lat=1&lon=2&timestamp=yesterday", "lat=95&lon=2&timestamp=1700000000",
                "lat=nan&lon=2"):
        r = client.get(f"/v1/adapters/osmand?id={token}&{bad}")
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert rows("telemetry_batches") == 0
