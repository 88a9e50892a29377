"""Uploading over HTTP: signed, stored before 202, idempotent, bad items reported one by one."""

from __future__ import annotations

from datetime import timedelta

from custodes.lab.device_client import encode, fix, status

from .conftest import HOME


def _fixes(clock, n, start_s=600, step_s=10):
    t0 = clock.now() - timedelta(seconds=start_s)
    return [fix(t0 + timedelta(seconds=i * step_s), HOME[0], HOME[1], 8.0) for i in range(n)]


def post(client, clock, device, body, **kw):
    return client.post(device.path, content=body, headers=device.http_headers(body, clock.now(), **kw))


def test_upload_is_stored_before_202_and_echoes_highest_seq(client, clock, person, rows):
    dev = person.client
    r = post(client, clock, dev, encode(7, _fixes(clock, 5)))
    assert r.status_code == 202, r.text
    assert r.json() == {"seq": 7, "highest_seq": 7, "accepted": 5, "rejected": [], "duplicate": False}
    r = post(client, clock, dev, encode(3, _fixes(clock, 2, start_s=900)))
    assert r.status_code == 202 and r.json()["highest_seq"] == 7 and r.json()["seq"] == 3
    assert rows("telemetry_batches") == 2


def test_resend_is_harmless_and_a_reused_seq_with_other_data_conflicts(client, clock, person, rows):
    dev = person.client
    body = encode(1, _fixes(clock, 3))
    assert post(client, clock, dev, body).status_code == 202
    again = post(client, clock, dev, body)  # a fresh nonce: a legitimate resend after a lost answer
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert rows("telemetry_batches") == 1
    other = post(client, clock, dev, encode(1, _fixes(clock, 4)))
    assert other.status_code == 409 and other.headers["content-type"] == "application/problem+json"


def test_replayed_signed_request_is_refused(client, clock, person, rows):
    dev = person.client
    body = encode(1, _fixes(clock, 2))
    headers = dev.http_headers(body, clock.now())
    assert client.post(dev.path, content=body, headers=headers).status_code == 202
    replay = client.post(dev.path, content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]
    stale = dev.http_headers(body, clock.now() - timedelta(minutes=6))
    assert client.post(dev.path, content=body, headers=stale).status_code == 401
    assert rows("telemetry_batches") == 1


def test_a_device_cannot_post_for_another_device(client, clock, person, other_person, rows):
    body = encode(1, _fixes(clock, 2))
    victim_path = other_person.client.path
    # Signed correctly by `person`'s device, but aimed at the other device's URL.
    r = client.post(victim_path, content=body, headers=person.client.http_headers(body, clock.now(), path=victim_path))
    assert r.status_code == 403
    # And a signature made with the wrong secret for the claimed device is refused outright.
    forged = other_person.client.http_headers(body, clock.now())
    forged["X-Custodes-Device"] = str(person.device_id)
    assert client.post(person.client.path, content=body, headers=forged).status_code == 401
    assert rows("telemetry_batches") == 0


def test_bad_items_are_reported_with_index_and_reason(client, clock, person, rows):
    items = _fixes(clock, 6)
    items[1]["lat"] = 91.0
    items[2]["accuracy_m"] = -3
    items[3]["time"] = (clock.now() + timedelta(minutes=6)).isoformat()
    items[4]["time"] = "2026-12-31T23:59:00Z"  # before the order started
    body = encode(5, items).replace(b'"lon":-0.12,', b'"lon":NaN,', 1)  # item 0: NaN
    r = post(client, clock, person.client, body)
    assert r.status_code == 202, r.text
    got = {x["index"]: x["reason"] for x in r.json()["rejected"]}
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert "lon" in got[0] and "finite" in got[0]
    assert "lat" in got[1] and "accuracy_m" in got[2]
    assert "future" in got[3] and "order" in got[4]
    assert r.json()["accepted"] == 1


def test_ndjson_line_that_is_not_json_is_rejected_alone(client, clock, person):
    t = clock.now() - timedelta(minutes=1)
    body = b'{"v":1,"seq":2}\n' + encode(0, [fix(t, *HOME, 5.0)])[len(b'{"v":1,"seq":0,"items":['):-2] + b"\n{broken\n"
    r = post(client, clock, person.client, body, content_type="application/x-ndjson")
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"][0]["index"] == 1 and "malformed JSON" in r.json()["rejected"][0]["reason"]


def test_a_bad_status_refuses_the_whole_batch(client, clock, person, rows):
    t = clock.now() - timedelta(minutes=1)
    items = _fixes(clock, 2) + [status(t, 101, "cut")]
    r = post(client, clock, person.client, encode(9, items))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "items[2]"
    assert rows("telemetry_batches") == 0


def test_malformed_envelope_is_a_problem(client, clock, person, rows):
    r = post(client, clock, person.client, b'{"v":1,"seq":')
    assert r.status_code == 422 and "malformed JSON" in r.json()["detail"]
    r = post(client, clock, person.client, encode(1, _fixes(clock, 1)).replace(b'"v":1', b'"v":9'))
    assert r.status_code == 422
    assert rows("telemetry_batches") == 0


def test_a_replay_another_api_process_receives_stores_nothing(client, clock, person, rows, monkeypatch):
    """Upload nonces live in each process's memory only: the replay protection that holds across
    processes is the signed sequence number, which makes the replay a duplicate."""
    from custodes.devices import signing

    dev = person.client
    body = encode(4, _fixes(clock, 3))
    headers = dev.http_headers(body, clock.now())
    assert client.post(dev.path, content=body, headers=headers).status_code == 202
    monkeypatch.setattr(signing, "RECENT_NONCES", signing.RecentNonces())  # as another process sees it
    replay = client.post(dev.path, content=body, headers=headers)
    assert replay.status_code == 202 and replay.json()["duplicate"] is True
    assert rows("telemetry_batches") == 1


def test_upload_nonces_write_no_database_row(client, clock, person, rows):
    dev = person.client
    assert post(client, clock, dev, encode(5, _fixes(clock, 2))).status_code == 202
    assert rows("device_nonces") == 0
