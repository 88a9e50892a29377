"""Subjects: CRUD, pagination, agency scoping (404 across agencies), sharing and validation."""

PROBLEM = "application/problem+json"


def test_create_read_update_list(client, officer, new_subject):
    cw = officer("caseworker")
    s = new_subject(cw)
    r = client.get(f"/v1/subjects/{s['id']}", headers=cw)
    assert r.status_code == 200 and r.json()["full_name"] == "Jan Kowalski"
    r = client.patch(f"/v1/subjects/{s['id']}", json={"preferred_language": "en"}, headers=cw)
    assert r.status_code == 200 and r.json()["preferred_language"] == "en"
    page = client.get("/v1/subjects", headers=cw).json()
    assert page["total"] == 1 and page["items"][0]["id"] == s["id"]


def test_pagination(client, officer, new_subject):
    cw = officer("caseworker")
    for i in range(7):
        new_subject(cw, full_name=f"Person {i:02d}")
    first = client.get("/v1/subjects?limit=3", headers=cw).json()
    rest = client.get("/v1/subjects?limit=3&offset=6", headers=cw).json()
    assert first["total"] == 7 and len(first["items"]) == 3 and len(rest["items"]) == 1
    assert [x["full_name"] for x in first["items"]] == ["Person 00", "Person 01", "Person 02"]
    bad = client.get("/v1/subjects?limit=0", headers=cw)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"


def test_cross_agency_reads_answer_404(client, officer, new_subject, new_order):
    mine = officer("caseworker", "home_office")
    theirs = officer("caseworker", "other_office")
    s = new_subject(mine)
    o = new_order(mine, s["id"])
    for method, path in (("get", f"/v1/subjects/{s['id']}"), ("get", f"/v1/subjects/{s['id']}/orders"),
                         ("get", f"/v1/orders/{o['id']}"), ("get", f"/v1/orders/{o['id']}/conditions"),
                         ("get", f"/v1/subjects/{s['id']}/assignments")):
        r = getattr(client, method)(path, headers=theirs)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith(PROBLEM)
    r = client.patch(f"/v1/subjects/{s['id']}", json={"full_name": "X"}, headers=theirs)
    assert r.status_code == 404
    # The same 404 as for an id that does not exist at all: existence does not leak.
    import uuid

    ghost = client.get(f"/v1/subjects/{uuid.uuid4()}", headers=theirs)
    assert ghost.status_code == 404
    assert client.get("/v1/subjects", headers=theirs).json()["total"] == 0


def test_sharing_gives_sight_but_not_change(client, officer, new_subject, agencies):
    cw = officer("caseworker", "home_office")
    probation = officer("probation", "probation")
    s = new_subject(cw)
    assert client.get(f"/v1/subjects/{s['id']}", headers=probation).status_code == 404
    r = client.post(f"/v1/subjects/{s['id']}/shares", json={"agency_id": str(agencies["probation"])}, headers=cw)
    assert r.status_code == 201
    assert client.get(f"/v1/subjects/{s['id']}", headers=probation).status_code == 200
    assert client.get("/v1/subjects", headers=probation).json()["total"] == 1
    # Probation may read but not change, and cannot see other agencies' unshared cases.
    assert client.patch(f"/v1/subjects/{s['id']}", json={"full_name": "X"}, headers=probation).status_code == 403
    r = client.delete(f"/v1/subjects/{s['id']}/shares/{agencies['probation']}", headers=cw)
    assert r.status_code == 204
    assert client.get(f"/v1/subjects/{s['id']}", headers=probation).status_code == 404


def test_roles_declared_on_routes(client, officer, new_subject):
    cw = officer("caseworker")
    new_subject(cw)
    for role, agency in (("police", "police"), ("auditor", "monitoring")):
        r = client.get("/v1/subjects", headers=officer(role, agency))
        assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    r = client.post("/v1/subjects", json={"full_name": "x"}, headers=officer("reviewer", "monitoring"))
    assert r.status_code == 403


VALID = {"full_name": "Ana Silva", "date_of_birth": "1993-02-11", "nationality": "BR",
         "preferred_language": "pt-BR", "time_zone": "America/Sao_Paulo"}


def test_invalid_subject_fields_are_named_and_nothing_is_stored(client, officer, rows):
    cw = officer("caseworker")
    before = rows("subjects"), rows("audit_entries")
    for field, value in (("time_zone", "Europe/Atlantis"), ("time_zone", "../../etc/passwd"),
                         ("date_of_birth", "1990-02-30"), ("nationality", "Poland"),
                         ("preferred_language", "!!")):
        r = client.post("/v1/subjects", json={**VALID, field: value}, headers=cw)
        assert r.status_code == 422, (field, value)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert field in r.json()["detail"]
    r = client.patch("/v1/subjects/00000000-0000-0000-0000-000000000000", json={"time_zone": "Mars/Olympus"},
                     headers=cw)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "time_zone"
    assert (rows("subjects"), rows("audit_entries")) == before


def test_malformed_json_body_is_a_problem(client, officer):
    cw = officer("caseworker")
    r = client.post("/v1/subjects", content=b"{not json", headers={**cw, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
