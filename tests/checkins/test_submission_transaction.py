"""A check-in's face work runs with no transaction open; the result is recorded after locking the
prompt and checking it again, so what changed meanwhile is not overwritten."""

import uuid

import pytest
from checkins.support import GATES, SIMON, challenge_frames
from sqlalchemy import event

from custodes.actor import Actor
from custodes.biometrics import get_engine
from custodes.checkins import submission


class Watch:
    """Counts connections the app holds; calls `during` inside the face work."""

    def __init__(self, container, during=None) -> None:
        self.out = 0
        self.seen: list[tuple[str, int]] = []
        self.during = during
        event.listen(container.engine, "checkout", self._checkout)
        event.listen(container.engine, "checkin", self._checkin)

    def _checkout(self, *_):
        self.out += 1

    def _checkin(self, *_):
        self.out -= 1

    def note(self, step: str) -> None:
        self.seen.append((step, self.out))
        if self.during is not None:
            during, self.during = self.during, None
            during()


@pytest.fixture
def watched(monkeypatch):
    def install(container, during=None) -> Watch:
        watch = Watch(container, during)
        real = get_engine()

        class Engine:
            def __getattr__(self, name):
                return getattr(real, name)

            def embed(self, *a, **kw):
                watch.note("embed")
                return real.embed(*a, **kw)

        real_liveness = submission.assess_liveness

        def liveness(*a, **kw):
            watch.note("liveness")
            return real_liveness(*a, **kw)

        monkeypatch.setattr(submission, "get_engine", lambda: Engine())
        monkeypatch.setattr(submission, "assess_liveness", liveness)
        return watch

    return install


def _submit(device, prompt, person):
    photo, frames = person
    return device("POST", f"/{prompt['prompt_id']}", [("photo", photo)] + [("frames", f) for f in frames])


def test_no_connection_is_held_while_decoding_embedding_and_judging_liveness(container, case, enrol, open_prompt,
                                                                              device, face_jpeg, watched):
    enrol()
    prompt = open_prompt()
    watch = watched(container)
    r = _submit(device, prompt, challenge_frames(face_jpeg, GATES, prompt["challenge"]["kind"]))
    assert r.status_code == 200 and r.json()["outcome"] == "verified", r.text
    assert [s for s, _ in watch.seen] == ["liveness", "embed", "embed"]  # the photo, then the challenge frame
    assert all(held == 0 for _, held in watch.seen), watch.seen  # no transaction, no row lock, no SQLite lock


def _decide_elsewhere(container, prompt_id):
    def run():
        from custodes.checkins.models import CheckInPrompt

        # Another submission deciding the prompt: on SQLite it needs the write lock, so it can only
        # happen here because the face work holds none.
        with container.session_factory() as s, s.begin():
            s.get(CheckInPrompt, uuid.UUID(prompt_id)).status = "decided"
    return run


def test_a_prompt_decided_during_the_face_work_is_not_recorded_twice(container, case, enrol, open_prompt, device,
                                                                      face_jpeg, watched, rows):
    enrol()
    prompt = open_prompt()
    watched(container, during=_decide_elsewhere(container, prompt["prompt_id"]))
    before = rows("checkin_attempts"), rows("face_photos"), rows("review_items")
    r = _submit(device, prompt, challenge_frames(face_jpeg, SIMON, prompt["challenge"]["kind"]))
    assert r.status_code == 409 and "already decided" in r.json()["detail"], r.text
    assert (rows("checkin_attempts"), rows("face_photos"), rows("review_items")) == before


def test_an_enrolment_ended_during_the_face_work_refuses_the_result(container, case, enrol, open_prompt, device,
                                                                     face_jpeg, watched, rows):
    made = enrol()
    prompt = open_prompt()

    def end_enrolment():
        from custodes.checkins.models import FaceEnrolment

        with container.uow(Actor.system("test")) as uow:
            uow.session.get(FaceEnrolment, uuid.UUID(made["id"])).status = "superseded"
            uow.commit()

    watched(container, during=end_enrolment)
    before = rows("checkin_attempts")
    r = _submit(device, prompt, challenge_frames(face_jpeg, GATES, prompt["challenge"]["kind"]))
    assert r.status_code == 409 and "enrolment changed" in r.json()["detail"], r.text
    assert rows("checkin_attempts") == before


def test_enrolment_embeds_with_no_connection_held(client, container, case, face_jpeg, monkeypatch):
    import custodes.biometrics as biometrics

    watch = Watch(container)
    real = get_engine()

    class Engine:
        def __getattr__(self, name):
            return getattr(real, name)

        def acquire(self, *a, **kw):
            watch.note("acquire")
            return real.acquire(*a, **kw)

    monkeypatch.setattr(biometrics, "get_engine", lambda: Engine())
    r = client.post(f"/v1/subjects/{case.subject_id}/face/enrolments",
                    files=[("photos", (n, face_jpeg(n), "image/jpeg")) for n in GATES["enrol"]],
                    headers=case.caseworker)
    assert r.status_code == 201, r.text
    assert watch.seen == [("acquire", 0)] * len(GATES["enrol"])
