"""Validation before storage: an implausible value is a 422 that stores nothing, and a record stored
before a rule tightened still reads (both databases)."""

import uuid

import sqlalchemy as sa

PROBLEM = "application/problem+json"


def _dob(container, subject_id):
    with container.engine.connect() as conn:
        return str(conn.scalar(sa.text("SELECT date_of_birth FROM subjects WHERE id = :i"),
                               {"i": uuid.UUID(subject_id).hex if container.engine.dialect.name == "sqlite"
                                else subject_id}))


def test_implausible_birth_dates_are_refused_and_nothing_is_stored(client, container, officer, new_subject):
    cw = officer("caseworker")
    subject = new_subject(cw)
    for bad in ("0132-05-04", "1899-12-31", "2027-01-16", "9999-12-31"):  # the clock reads 2027-01-15
        r = client.patch(f"/v1/subjects/{subject['id']}", json={"date_of_birth": bad}, headers=cw)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["errors"][0]["field"] == "date_of_birth"
        assert client.get(f"/v1/subjects/{subject['id']}", headers=cw).json()["date_of_birth"] == "1990-05-01"
        made = client.post("/v1/subjects", json={**{k: subject[k] for k in (
            "full_name", "nationality", "preferred_language", "time_zone")}, "date_of_birth": bad}, headers=cw)
        assert made.status_code == 422, (bad, made.text)
    assert client.get("/v1/subjects", headers=cw).json()["total"] == 1


def test_a_record_stored_before_the_rule_still_reads(client, container, officer, new_subject):
    cw = officer("caseworker")
    subject = new_subject(cw)
    with container.engine.begin() as conn:
        conn.execute(sa.text("UPDATE subjects SET date_of_birth = :d"), {"d": "0132-05-04"})
    assert client.get(f"/v1/subjects/{subject['id']}", headers=cw).status_code == 200
    assert client.get("/v1/subjects", headers=cw).status_code == 200


def test_times_out_of_range_are_refused(client, officer, new_subject, new_order):
    cw = officer("caseworker")
    subject = new_subject(cw)
    order = new_order(cw, subject["id"])
    base = {"legal_basis": "Immigration Act 2016", "less_intrusive_options": [
        {"option": "weekly reporting", "reason_rejected": "absconded twice"}]}
    for starts, ends in (("0001-01-01T00:00:00Z", "2027-12-31T00:00:00Z"),
                         ("2027-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"),  # no UTC equivalent
                         ("2027-01-01T00:00:00Z", "2200-01-01T00:00:00Z")):
        r = client.post(f"/v1/subjects/{subject['id']}/orders", json={**base, "starts_at": starts, "ends_at": ends},
                        headers=cw)
        assert r.status_code == 422, r.text
    r = client.patch(f"/v1/orders/{order['id']}", json={"ends_at": "9999-12-31T23:59:59Z"}, headers=cw)
    assert r.status_code == 422
    alerts = client.get("/v1/alerts", params={"since": "9999-12-31T23:59:59-14:00"}, headers=cw)
    assert alerts.status_code == 422
    assert client.get(f"/v1/subjects/{subject['id']}/orders", headers=cw).json()["total"] == 1
