"""Orders and conditions: review dates, hard validation naming the field, nothing stored on error."""

PROBLEM = "application/problem+json"
SQUARE = [[[-0.12, 51.50], [-0.11, 51.50], [-0.11, 51.51], [-0.12, 51.51], [-0.12, 51.50]]]


def _zone(**over):
    return {"spec": {"kind": "zone", "name": "home", "zone_type": "inclusion",
                     "geometry": {"type": "Polygon", "coordinates": SQUARE}, **over}}


def test_order_has_review_due_90_days_on(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    assert o["next_review_due"].startswith("2027-04-01")
    assert o["review_every_days"] == 90
    assert o["less_intrusive_options"][0]["reason_rejected"] == "absconded twice"


def test_record_review_moves_the_due_date(client, officer, new_subject, new_order, clock):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    r = client.patch(f"/v1/orders/{o['id']}", json={"reviewed": True}, headers=cw)
    assert r.status_code == 200
    assert r.json()["next_review_due"].startswith("2027-04-15")  # clock is 2027-01-15


def test_end_before_start_is_rejected(client, officer, new_subject, rows):
    cw = officer("caseworker")
    s = new_subject(cw)
    before = rows("orders")
    body = {"legal_basis": "Immigration Act 2016", "starts_at": "2027-06-01T00:00:00Z",
            "ends_at": "2027-05-01T00:00:00Z",
            "less_intrusive_options": [{"option": "reporting", "reason_rejected": "did not report"}]}
    r = client.post(f"/v1/subjects/{s['id']}/orders", json=body, headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_at"
    naive = client.post(f"/v1/subjects/{s['id']}/orders", json={**body, "ends_at": "2027-07-01T00:00:00"}, headers=cw)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "ends_at"
    none = client.post(f"/v1/subjects/{s['id']}/orders", json={**body, "ends_at": "2027-07-01T00:00:00Z",
                                                                "less_intrusive_options": []}, headers=cw)
    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "less_intrusive_options"
    assert rows("orders") == before


def test_valid_conditions_are_stored(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    ok = [
        _zone(),
        {"spec": {"kind": "zone", "name": "airport", "zone_type": "exclusion",
                  "circle": {"lat": 51.47, "lon": -0.45, "radius_m": 2000}}},
        {"spec": {"kind": "curfew", "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "start_local": "2027-01-04T19:00:00",
                  "duration_minutes": 720, "zone_name": "home"}},
        {"spec": {"kind": "check_in_policy", "prompts_per_day": 5, "quiet_hours": [{"start": "13:00", "end": "14:00"}]}},
    ]
    for body in ok:
        r = client.post(f"/v1/orders/{o['id']}/conditions", json=body, headers=cw)
        assert r.status_code == 201, r.text
    listed = client.get(f"/v1/orders/{o['id']}/conditions", headers=cw).json()
    assert sorted(c["kind"] for c in listed) == ["check_in_policy", "curfew", "zone", "zone"]


BOWTIE = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
BAD_CONDITIONS = [
    ("geometry", _zone(geometry={"type": "Point", "coordinates": [0, 0]}), "Polygon"),
    ("geometry", _zone(geometry={"type": "Polygon", "coordinates": BOWTIE}), "Self-intersection"),
    ("geometry", _zone(geometry={"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]}), "longitude"),
    ("geometry", _zone(geometry={"type": "Polygon", "coordinates": [[[0, 0], [0, 95], [1, 1], [0, 0]]]}), "latitude"),
    ("geometry", _zone(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}), "closed"),
    ("geometry", _zone(geometry={"type": "Polygon", "coordinates": [[[0, 0], ["a", 0], [1, 1], [0, 0]]]}), "number"),
    ("circle", {"spec": {"kind": "zone", "name": "c", "zone_type": "exclusion",
                         "circle": {"lat": 91, "lon": 0, "radius_m": 10}}}, "90"),
    ("rrule", {"spec": {"kind": "curfew", "rrule": "FREQ=SOMETIMES", "start_local": "2027-01-04T19:00:00",
                        "duration_minutes": 60}}, "rrule"),
    ("rrule", {"spec": {"kind": "curfew", "rrule": "FREQ=SECONDLY", "start_local": "2027-01-04T19:00:00",
                        "duration_minutes": 60}}, "FREQ"),
    ("start_local", {"spec": {"kind": "curfew", "rrule": "FREQ=DAILY", "start_local": "2027-01-04T19:00:00+01:00",
                              "duration_minutes": 60}}, "local"),
    ("prompts_per_day", {"spec": {"kind": "check_in_policy", "prompts_per_day": 6}}, "5"),
    ("start", {"spec": {"kind": "check_in_policy", "prompts_per_day": 2,
                        "quiet_hours": [{"start": "25:00", "end": "26:00"}]}}, "time"),
]


def test_invalid_conditions_name_the_field_and_store_nothing(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    before = rows("conditions"), rows("audit_entries")
    for field, body, needle in BAD_CONDITIONS:
        r = client.post(f"/v1/orders/{o['id']}/conditions", json=body, headers=cw)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f.split(".")[-1] == field or f".{field}." in f for f in fields), (field, fields)
        assert needle.lower() in r.json()["detail"].lower(), (needle, r.json()["detail"])
    assert (rows("conditions"), rows("audit_entries")) == before


def test_curfew_must_name_an_existing_inclusion_zone(client, officer, new_subject, new_order, rows):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    body = {"spec": {"kind": "curfew", "rrule": "FREQ=DAILY", "start_local": "2027-01-04T19:00:00",
                     "duration_minutes": 600, "zone_name": "nowhere"}}
    r = client.post(f"/v1/orders/{o['id']}/conditions", json=body, headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "spec.zone_name"
    assert rows("conditions") == 0


def test_condition_read_replace_delete(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    o = new_order(cw, new_subject(cw)["id"])
    c = client.post(f"/v1/orders/{o['id']}/conditions", json=_zone(), headers=cw).json()
    assert client.get(f"/v1/conditions/{c['id']}", headers=cw).json()["spec"]["name"] == "home"
    r = client.put(f"/v1/conditions/{c['id']}", json=_zone(name="flat", margin_m=40), headers=cw)
    assert r.status_code == 200 and r.json()["spec"]["margin_m"] == 40
    wrong = client.put(f"/v1/conditions/{c['id']}", json={"spec": {"kind": "check_in_policy", "prompts_per_day": 1}},
                       headers=cw)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "spec.kind"
    theirs = officer("caseworker", "other_office")
    assert client.get(f"/v1/conditions/{c['id']}", headers=theirs).status_code == 404
    assert client.delete(f"/v1/conditions/{c['id']}", headers=theirs).status_code == 404
    assert client.delete(f"/v1/conditions/{c['id']}", headers=cw).status_code == 204
    assert client.get(f"/v1/conditions/{c['id']}", headers=cw).status_code == 404
