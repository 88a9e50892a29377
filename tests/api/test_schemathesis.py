"""Schemathesis against the OpenAPI document, for every role and a signed device, on a fixed time
budget: no server error, no answer outside the schema, no status code the document does not list.

Half the cases name records that exist (so the routes get past their 404s); the rest are as
generated. Positive and negative (invalid) inputs are both drawn. The counts are printed.
"""

from __future__ import annotations

import os
import random
import time
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from custodes.app import create_app
from custodes.devices.signing import signed_headers
from custodes.lab.population import enrol

BACKENDS = [b for b in os.environ.get("CUSTODES_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
ROLES = ("caseworker", "reviewer", "probation", "police", "auditor", "admin")
# The whole run (7 actors, ~50 operations each, on every backend) stays near three minutes on two cores.
BUDGET_S = float(os.environ.get("CUSTODES_SCHEMATHESIS_BUDGET_S", "160")) / len(BACKENDS)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DEVICE_TAG = "device API"
DEVICE_PATHS = {"/v1/devices/{device_id}/telemetry"}


@pytest.fixture
def world(container, agencies, officer, new_subject, new_order, client):
    """Records for the cases to name: a subject with an order, conditions and a device."""
    cw = officer("caseworker")
    subject = new_subject(cw)
    order = new_order(cw, subject["id"])
    condition = client.post(f"/v1/orders/{order['id']}/conditions", headers=cw, json={"spec": {
        "kind": "zone", "name": "home", "zone_type": "inclusion", "circle": {"lat": 51.5, "lon": -0.12,
                                                                              "radius_m": 100}}}).json()
    person = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=datetime(2027, 1, 1, tzinfo=UTC),
                   until=datetime(2027, 12, 31, tzinfo=UTC))
    assignment = client.get(f"/v1/subjects/{person.subject_id}/assignments", headers=cw).json()[0]
    ids = {"subject_id": [subject["id"], str(person.subject_id)], "order_id": [order["id"]],
           "condition_id": [condition["id"]], "device_id": [str(person.device_id)],
           "assignment_id": [assignment["id"]], "agency_id": [str(a) for a in agencies.values()]}
    return ids, person


def _operations(schema, device: bool):
    for result in schema.get_all_operations():
        op = result.ok()
        if (DEVICE_TAG in (op.tags or []) or op.path in DEVICE_PATHS) == device:
            yield op


class _OutOfTime(Exception):
    """Raised inside the property to end its run once the operation's budget is spent."""


_STRATEGIES: dict[str, st.SearchStrategy] = {}


def _strategy(op) -> st.SearchStrategy:
    # Building a strategy is the slow part of a small run: once per operation, shared by the actors.
    if op.label not in _STRATEGIES:
        _STRATEGIES[op.label] = st.one_of(op.as_strategy(generation_mode=GenerationMode.POSITIVE),
                                          op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    return _STRATEGIES[op.label]


def _exercise(op, budget_s: float, headers_for, ids: dict[str, list[str]], session, actor: str
              ) -> tuple[int, list[str]]:
    count, failures = 0, []
    deadline = time.monotonic() + budget_s
    rng = random.Random(f"{actor} {op.label}")

    # Seeded per actor and operation: each actor gets its own cases, and a failure replays.
    @seed(zlib.crc32(f"{actor} {op.label}".encode()))
    @settings(max_examples=1000, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=_strategy(op))
    def run(case):
        nonlocal count
        if time.monotonic() > deadline:
            raise _OutOfTime
        for name in case.path_parameters or {}:
            if name in ids and rng.random() < 0.5:
                case.path_parameters[name] = rng.choice(ids[name])
        headers = headers_for(case)
        response = case.call(headers=headers, session=session)
        count += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is recorded, then reported
            failures.append(f"{op.label} -> {response.status_code}: {str(exc).splitlines()[0][:300]}")

    try:
        run()
    except _OutOfTime:
        pass
    except BaseExceptionGroup as group:  # hypothesis may wrap it
        if not group.subgroup(_OutOfTime):
            raise
    return count, failures


def test_schemathesis_every_role_and_a_device(container, officer, world, capsys):
    ids, person = world
    app = create_app(container)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with asgi.get_client(app) as session:  # one in-process client for the whole run
        _run(schema, container, officer, ids, person, session, capsys)


def _run(schema, container, officer, ids, person, session, capsys):
    officer_ops = list(_operations(schema, device=False))
    device_ops = list(_operations(schema, device=True))
    actors = len(ROLES) + 1
    per_op = BUDGET_S / actors / max(1, len(officer_ops))
    report: dict[str, tuple[int, int, int]] = {}
    all_failures: list[str] = []
    # Every officer signs in first: the fuzzing of /v1/auth/token fails sign-ins from this client's
    # address, and enough of them throttle the address (as they should) for the next sign-in.
    tokens = {role: officer(role) for role in ROLES}
    for role in ROLES:
        token = tokens[role]
        total, failed = 0, []
        for op in officer_ops:
            n, f = _exercise(op, per_op, lambda case, t=token: dict(t), ids, session, role)
            total += n
            failed += f
        report[role] = (len(officer_ops), total, len(failed))
        all_failures += [f"{role}: {f}" for f in failed]

    def signed(case):
        device_id = str(case.path_parameters.get("device_id", person.device_id))
        secret = person.secret if device_id == str(person.device_id) else "not-this-devices-secret"
        container.clock.advance(timedelta(milliseconds=1))
        return signed_headers(device_id, secret, case.method, case.formatted_path, b"", container.clock.now())

    total, failed = 0, []
    device_budget = BUDGET_S / actors / max(1, len(device_ops))
    for op in device_ops:
        n, f = _exercise(op, device_budget, signed, {"device_id": [str(person.device_id)]}, session, "device")
        total += n
        failed += f
    report["device"] = (len(device_ops), total, len(failed))
    all_failures += [f"device: {f}" for f in failed]
    with capsys.disabled():
        print("\nschemathesis (actor: operations, examples run, failures)")
        for actor, (ops, n, f) in report.items():
            print(f"  {actor:>10}: {ops:3d} operations, {n:6d} examples, {f:3d} failures")
    assert not all_failures, "\n".join(dict.fromkeys(all_failures))
    assert all(n > 0 for _, n, _ in report.values())
