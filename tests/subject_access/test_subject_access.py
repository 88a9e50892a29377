"""The person's own sign-in and views: their data only, in their language, every read audited."""

from __future__ import annotations

import sqlalchemy as sa

from custodes.audit.models import AuditEntry
from tests.subject_access.conftest import held_data


def _audit(container, **where) -> list[AuditEntry]:
    with container.session_factory() as s:
        q = sa.select(AuditEntry)
        for k, v in where.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return list(s.scalars(q))


def test_credentials_are_shown_once_and_only_a_caseworker_issues_them_and_tokens_do_not_cross(client, officer, case,
                                                                                              container):
    cw = officer("caseworker")
    a = case(cw)
    assert len(a["credentials"]["password"]) >= 16 and a["credentials"]["username"].startswith("p-")
    with container.engine.connect() as conn:  # stored as an argon2 hash, never in clear
        stored = conn.scalar(sa.text("SELECT password_hash FROM subject_credentials"))
    assert stored.startswith("$argon2") and a["credentials"]["password"] not in stored
    assert client.post(f"/v1/subjects/{a['subject']['id']}/credentials", headers=officer("reviewer")).status_code == 403
    other = officer("caseworker", "other_office")
    assert client.post(f"/v1/subjects/{a['subject']['id']}/credentials", headers=other).status_code == 404
    wrong = client.post("/v1/my/token", data={"username": a["credentials"]["username"], "password": "nope-nope-nope"})
    assert wrong.status_code == 401
    # Reissuing withdraws every token of the old credentials.
    assert client.get("/v1/my/schedule", headers=a["headers"]).status_code == 200
    assert client.post(f"/v1/subjects/{a['subject']['id']}/credentials", headers=cw).status_code == 201
    assert client.get("/v1/my/schedule", headers=a["headers"]).status_code == 401
    # Tokens do not cross between officers and subjects.
    a = case(cw)
    assert client.get(f"/v1/subjects/{a['subject']['id']}", headers=a["headers"]).status_code == 401
    assert client.get("/v1/alerts", headers=a["headers"]).status_code == 401
    assert client.get("/v1/my/schedule", headers=cw).status_code == 401


def test_schedule_is_in_the_persons_language_and_every_read_is_audited(client, officer, case, container):
    cw = officer("caseworker")
    a = case(cw)  # SUBJECT's language is Polish
    r = client.get("/v1/my/schedule", headers=a["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "pl"
    texts = [c["text"] for o in body["orders"] for c in o["conditions"]]
    assert any("zgłoszeń ze zdjęciem" in t for t in texts) and any("Przebywaj w obszarze" in t for t in texts)
    english = case(cw, preferred_language="en-GB")
    en = client.get("/v1/my/schedule", headers=english["headers"]).json()
    assert any(c["text"].startswith("Up to 3 photo check-ins") for o in en["orders"] for c in o["conditions"])
    unknown = case(cw, preferred_language="tlh")  # no translation: English, never nothing
    assert client.get("/v1/my/schedule", headers=unknown["headers"]).json()["language"] == "en"
    for path in ("/v1/my/schedule", "/v1/my/checkins", "/v1/my/alerts", "/v1/my/tasks", "/v1/my/privacy-notice",
                 "/v1/my/export"):
        before = len(_audit(container, actor_kind="subject"))
        assert client.get(path, headers=a["headers"]).status_code == 200, path
        assert len(_audit(container, actor_kind="subject")) > before, f"{path} was not audited"


def test_a_subject_sees_only_their_own_data(client, officer, case, container, clock):
    cw = officer("caseworker")
    a, b = case(cw), case(cw, full_name="Ana Popescu")
    held_a = held_data(container, clock, a["subject"]["id"], a["device"]["id"])
    held_b = held_data(container, clock, b["subject"]["id"], b["device"]["id"])
    alerts = client.get("/v1/my/alerts", headers=a["headers"]).json()
    assert [x["id"] for x in alerts] == [held_a["alert"]]
    assert alerts[0]["what"] == "Twoje urządzenie przestało wysyłać dane."
    checkins = client.get("/v1/my/checkins", headers=a["headers"]).json()
    assert [x["id"] for x in checkins] == [held_a["prompt"]]
    assert "nie dopasował" in checkins[0]["what"]  # no_match, in plain Polish
    # Another person's decisions do not exist for them.
    for target_type, key in (("alert", "alert"), ("check_in", "prompt"), ("review_item", "review_item")):
        r = client.post("/v1/my/contests", json={"target_type": target_type, "target_id": held_b[key],
                                                 "grounds": "not mine"}, headers=a["headers"])
        assert r.status_code == 404, (target_type, r.text)
    schedule = client.get("/v1/my/schedule", headers=a["headers"]).json()
    assert [o["order_id"] for o in schedule["orders"]] == [a["order"]["id"]]
