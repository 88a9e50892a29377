"""No path records an adverse outcome without a human decision (and, for a check-in, two).

Two complementary checks:
1. Static: every place in the code base that writes an outcome or a reviewer decision is found
   by walking the syntax tree, and must be one of the known, reviewed writers below. A new
   writer anywhere makes this test fail until someone has looked at it.
2. Dynamic: every machine path (verified, different person, printed photo, repeated failures to
   acquire, missed prompt, throttled retry) is driven through the API with real faces, and no
   adverse outcome exists afterwards; then one reviewer is not enough, and two are.
"""

from __future__ import annotations

import ast
import functools
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from checkins.support import GATES, SIMON, challenge_frames, dark

import custodes
from custodes.actor import Actor
from custodes.checkins.models import CheckInAttempt
from custodes.checkins.scheduled import sweep

SRC = Path(custodes.__file__).resolve().parent
WATCHED_ATTRS = {"outcome", "first_decision", "second_decision"}
MODELS = {"ReviewItem", "ReviewDecision", "CheckInPrompt", "CheckInAttempt", "Alert"}
ADVERSE_MARKERS = {"different_person", "check_in_failed", "breach_confirmed"}

# Every writer of an outcome or decision, and why it is safe.
KNOWN_WRITERS = {
    ("checkins/submission.py", "_record"),  # machine outcome: only decide()'s verified/not_verified/inconclusive
    ("review/service.py", "decide"),  # a signed-in reviewer's own decision (one per reviewer)
    ("review/service.py", "_close"),  # non-adverse closure; raises if asked to close adverse
    ("review/service.py", "_close_adverse"),  # only after two different reviewers said different person
    ("alerts/service.py", "resolve"),  # an officer resolving an alert through the role-checked route
    # Browser-test and screenshot data: writes only the machine's non-adverse "not_verified" (and holds no
    # adverse marker, which the check below enforces); it then queues the item for human review.
    ("lab/console_ops_scenario.py", "review_item"),
}
# Where an adverse marker may appear at all (definitions and the one adverse writer).
ADVERSE_PLACES = {"review/models.py", "review/service.py", "alerts/models.py", "migrations/versions/0200_checkins.py"}


@functools.cache
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    return tuple((path.relative_to(SRC).as_posix(), ast.parse(path.read_text(), filename=str(path)))
                 for path in sorted(SRC.rglob("*.py")))


def _functions(tree: ast.AST):
    """(function name, node) for every function, innermost name for nested ones."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node


def _targets(node: ast.AST):
    if isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _targets(elt)
    else:
        yield node


def _writes(fn: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            for tgt in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                for t in _targets(tgt):
                    if isinstance(t, ast.Attribute) and t.attr in WATCHED_ATTRS:
                        found.append(ast.unparse(t))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in MODELS:
                found += [f"{name}({k.arg}=)" for k in node.keywords if k.arg in WATCHED_ATTRS]
    return found


def test_the_scanner_sees_every_form_of_write() -> None:
    """The static checks below can fail: each way of writing an outcome is detected."""
    snippet = ast.parse(
        "def a(i):\n    i.outcome = 'different_person'\n"
        "def b(i):\n    i.status, i.second_decision = 'closed', 'x'\n"
        "def c():\n    return ReviewItem(outcome='different_person')\n"
        "def d(i):\n    i.reason = 'fine'\n")
    found = {name: _writes(fn) for name, fn in _functions(snippet)}
    assert found == {"a": ["i.outcome"], "b": ["i.second_decision"], "c": ["ReviewItem(outcome=)"], "d": []}


def test_every_outcome_writer_is_a_known_reviewed_one() -> None:
    writers = {}
    for rel, tree in _modules():
        for name, fn in _functions(tree):
            if _writes(fn):
                writers[(rel, name)] = _writes(fn)
    assert set(writers) == KNOWN_WRITERS, writers


def test_the_machine_writes_only_the_pure_decisions_outcome() -> None:
    tree = ast.parse((SRC / "checkins" / "submission.py").read_text())
    record = next(fn for name, fn in _functions(tree) if name == "_record")
    values = [ast.unparse(n.value) for n in ast.walk(record) if isinstance(n, ast.keyword) and n.arg == "outcome"]
    values += [ast.unparse(n.value) for n in ast.walk(record) if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Attribute) and t.attr == "outcome" for tgt in n.targets for t in _targets(tgt))]
    assert values and all("decision.outcome" in v for v in values), values


def test_adverse_markers_appear_only_where_humans_decide() -> None:
    for rel, tree in _modules():
        used = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in ADVERSE_MARKERS}
        assert not used or rel in ADVERSE_PLACES, (rel, used)
    service = ast.parse((SRC / "review" / "service.py").read_text())
    callers = {name for name, fn in _functions(service) for n in ast.walk(fn)
               if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "_close_adverse"}
    assert callers == {"decide"}
    raisers = {name for name, fn in _functions(service) for n in ast.walk(fn)
               if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "raise_alert"}
    assert raisers == {"_close_adverse"}  # the confirmed-failure alert is raised only there
    # Alerts are resolved (with an outcome such as breach_confirmed) only by an officer's request.
    resolvers = {rel for rel, tree in _modules() for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and ast.unparse(n.func) in ("service.resolve", "alerts.resolve", "alerts_service.resolve")}
    # The API route and the console's page route, both role-checked officers' requests.
    assert resolvers <= {"alerts/views.py", "console/alert_queue.py"}, resolvers


def _adverse_state(container) -> dict[str, int]:
    q = {
        "adverse_items": "SELECT count(*) FROM review_items WHERE outcome = 'different_person'",
        "confirmed_alerts": "SELECT count(*) FROM alerts WHERE kind = 'check_in_failed'",
        "resolved_alerts": "SELECT count(*) FROM alerts WHERE status = 'resolved'",
        "odd_outcomes": "SELECT count(*) FROM checkin_prompts WHERE outcome IS NOT NULL AND outcome NOT IN "
                        "('verified', 'not_verified', 'inconclusive')",
    }
    with container.engine.connect() as conn:
        return {k: conn.execute(sa.text(v)).scalar_one() for k, v in q.items()}


def test_no_machine_path_records_an_adverse_outcome(client, container, case, enrol, open_prompt, device,
                                                     face_jpeg, nuaa, clock, officer):
    none = {"adverse_items": 0, "confirmed_alerts": 0, "resolved_alerts": 0, "odd_outcomes": 0}

    def submit(prompt, photo, frames=()):
        return device("POST", f"/{prompt['prompt_id']}", [("photo", photo)] + [("frames", f) for f in frames])

    enrol()
    outcomes = []
    p = open_prompt()  # 1. the same person
    outcomes.append(submit(p, *challenge_frames(face_jpeg, GATES, p["challenge"]["kind"])).json()["reason"])
    p = open_prompt()  # 2. a different person
    outcomes.append(submit(p, *challenge_frames(face_jpeg, SIMON, p["challenge"]["kind"])).json()["reason"])
    p = open_prompt()  # 3. a printed photo
    attack = sorted((nuaa / "ImposterRaw" / "0001").glob("*.jpg"))[:2]
    outcomes.append(submit(p, attack[0].read_bytes(), [attack[1].read_bytes()]).json()["reason"])
    p = open_prompt()  # 4. three failures to acquire
    for _ in range(3):
        last = submit(p, dark(face_jpeg(GATES["probe"])))
    outcomes.append(last.json()["reason"])
    assert outcomes == ["match", "no_match", "liveness_failed", "repeated_failure_to_acquire"]
    # 5. throttled after ten failed comparisons in a row
    p = open_prompt()
    with container.uow(Actor.system("test")) as uow:
        for i in range(10):
            uow.session.add(CheckInAttempt(
                id=uuid.uuid4(), prompt_id=uuid.UUID(p["prompt_id"]), subject_id=uuid.UUID(case.subject_id),
                device_id=uuid.UUID(case.device_id), submitted_at=clock.now() - timedelta(seconds=5 + i),
                outcome="not_verified", reason="no_match", model_version="m", quality={}, counts_as_failure=True,
                failure_to_acquire=False))
        uow.commit()
    assert submit(p, *challenge_frames(face_jpeg, GATES, p["challenge"]["kind"])).status_code == 429
    # 6. missed prompts (this one, and every other one of the days drawn)
    clock.advance(timedelta(days=1))
    assert sweep(container).missed > 0
    assert _adverse_state(container) == none

    # The humans: one reviewer saying "different person" is not enough; a second, different one is.
    item = next(i for i in client.get("/v1/review/items", headers=officer("reviewer", "monitoring")).json()["items"]
                if i["reason"] == "no_match")
    for n, reviewer in enumerate([officer("reviewer", "monitoring"), officer("reviewer", "monitoring")]):
        r = client.post(f"/v1/review/items/{item['id']}/decisions",
                        json={"decision": "different_person", "reason": "not the enrolled person"}, headers=reviewer)
        assert r.status_code == 200, r.text
        state = _adverse_state(container)
        assert state["adverse_items"] == state["confirmed_alerts"] == n
    with container.engine.connect() as conn:
        deciders = conn.execute(sa.text("SELECT count(DISTINCT reviewer_id) FROM review_decisions rd JOIN review_items"
                                        " ri ON ri.id = rd.item_id WHERE ri.outcome = 'different_person'")).scalar_one()
        writers = conn.execute(sa.text("SELECT DISTINCT actor_kind FROM audit_entries WHERE target_type = "
                                       "'review_decision'")).scalars().all()
    assert deciders == 2 and writers == ["user"]
