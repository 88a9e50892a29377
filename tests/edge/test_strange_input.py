"""No input, however large, deep or strange, gives a 5xx: offsets past 64 bits, NUL characters in
any string, JSON nested past the parser (both databases; NUL matters most on PostgreSQL)."""

import json
import uuid
from datetime import UTC, datetime

from custodes.lab.population import enrol

PROBLEM = "application/problem+json"
ROLES = ("caseworker", "reviewer", "probation", "police", "auditor", "admin")


def test_offsets_past_the_integer_types_are_422_on_every_paged_route(client, officer, new_subject):
    spec = client.get("/openapi.json").json()
    paged = [path for path, ops in spec["paths"].items()
             if any(p["name"] == "offset" for p in ops.get("get", {}).get("parameters", []))]
    assert len(paged) >= 6, paged
    tokens = {role: officer(role) for role in ROLES}
    # The monitored person's own routes take their token, not an officer's.
    subject = new_subject(tokens["caseworker"])
    creds = client.post(f"/v1/subjects/{subject['id']}/credentials", headers=tokens["caseworker"]).json()
    me = client.post("/v1/my/token", data={"username": creds["username"], "password": creds["password"]}).json()
    mine = {"subject": {"Authorization": f"Bearer {me['access_token']}"}}
    for path in paged:
        if path.startswith("/v1/my/"):
            r = client.get(path, params={"offset": 2**63}, headers=mine["subject"])
            assert r.status_code == 422, (path, r.text)
            continue
        url = path.replace("{subject_id}", str(uuid.uuid4()))
        answers = {role: client.get(url, params={"offset": 2**63}, headers=h).status_code
                   for role, h in tokens.items()}
        assert set(answers.values()) <= {403, 422}, (path, answers)
        assert 422 in answers.values(), (path, answers)


def test_nul_characters_are_refused_and_nothing_is_stored(client, officer, rows):
    cw = officer("caseworker")
    assert client.get("/v1/subjects", params={"name": "a\x00b"}, headers=cw).status_code == 422
    assert client.get("/v1/devices/by-barcode/50%0012", headers=cw).status_code == 422
    subject = {"full_name": "Jan\u0000Kowalski", "date_of_birth": "1990-05-01", "nationality": "PL",
               "preferred_language": "pl", "time_zone": "Europe/London"}
    before = rows("subjects")
    r = client.post("/v1/subjects", content=json.dumps(subject), headers={**cw, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert rows("subjects") == before
    device = client.post("/v1/devices", json={"kind": "ankle_tag", "serial": "S\u0000", "barcode": "5012\u00003"},
                         headers=cw)
    assert device.status_code == 422
    token = client.post("/v1/auth/token", data={"username": "casey\x00", "password": "x" * 12})
    assert token.status_code == 422
    # An escaped backslash before "u0000" is text, not a NUL: it reaches validation as usual.
    ok = client.post("/v1/subjects", content=json.dumps({**subject, "full_name": "Jan \\u0000 K"}),
                     headers={**cw, "Content-Type": "application/json"})
    assert ok.status_code == 201, ok.text


def test_deeply_nested_json_is_a_4xx(client, container, officer, agencies):
    cw = officer("caseworker")
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/v1/subjects", content=deep, headers={**cw, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.status_code
    person = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=datetime(2027, 1, 1, tzinfo=UTC),
                   until=datetime(2027, 12, 31, tzinfo=UTC))
    for body in (deep, b'{"v": 1, "seq": 1, "items": ' + deep + b"}",
                 b'{"v": 1, "seq": 1, "items": [' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"]}"):
        dev = person.client
        r = client.post(dev.path, content=body, headers=dev.http_headers(body, container.clock.now()))
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    ndjson = b'{"v": 1, "seq": 2}\n' + deep
    r = client.post(dev.path, content=ndjson, headers=dev.http_headers(ndjson, container.clock.now(),
                                                                        content_type="application/x-ndjson"))
    assert r.status_code < 500, r.text[:200]
