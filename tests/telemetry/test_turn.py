"""A turn over many devices judges each of them exactly as a turn of its own would: the same trail,
the same alerts at the same instants, the same rule state, with curfews opening mid-turn, a status
report, an exclusion zone, and a late batch (which goes to the per-device path from there on)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select

from custodes.actor import Actor
from custodes.alerts.models import Alert
from custodes.lab.device_client import encode, fix, status
from custodes.lab.population import enrol
from custodes.rules import SubjectState
from custodes.telemetry import trail
from custodes.telemetry.models import MonitorState, TelemetryBatch
from custodes.telemetry.pipeline import Pipeline

from .conftest import EXCLUSION, HOME, ORDER_END, ORDER_START

AWAY = (HOME[0] + 0.02, HOME[1])  # 2 km north: outside home during curfew
INSIDE_EXCLUSION = (51.5000, -0.1040)
PEOPLE, BATCHES, FIXES, STEP_S = 12, 6, 10, 30


def _items(clock, kind: int, k: int) -> list[dict]:
    """Batch k of a person of this kind: 18:55 onwards, local = UTC in January; curfew from 19:00."""
    t0 = clock.now() - timedelta(minutes=35) + timedelta(seconds=k * FIXES * STEP_S)
    out = []
    for i in range(FIXES):
        at = t0 + timedelta(seconds=i * STEP_S)
        late_evening = at.hour == 19 and at.minute >= 5
        away = late_evening and (kind == 1 or (kind == 3 and k == 2))  # kind 3: out in its late batch only
        where = AWAY if away else INSIDE_EXCLUSION if kind == 2 and at.hour == 19 else HOME
        out.append(fix(at, where[0] + 1e-5 * (i % 3), where[1], 6.0 + i % 4))
    if kind == 0 and k == 2:
        out.append(status(t0 + timedelta(seconds=95), 71.0, strap="open"))
    return out


def _upload(client, clock, person, kind, late: bool = False):
    """Kind 3 keeps batch 2 back until the rest is judged: then it is late, judged again at its time."""
    for k in ([2] if late else range(BATCHES)) if kind == 3 else ([] if late else range(BATCHES)):
        if kind == 3 and k == 2 and not late:
            continue
        body = encode(k + 1, _items(clock, kind, k))
        r = client.post(person.client.path, content=body, headers=person.client.http_headers(body, clock.now()))
        assert r.status_code == 202, r.text


def _outcome(container, clock, subject_id):
    with container.uow(Actor.system("test")) as uow:
        s = uow.session
        alerts = sorted((a.kind, a.severity, a.occurred_at, "late" in a.evidence)
                        for a in s.scalars(select(Alert).where(Alert.subject_id == subject_id)))
        points = [(p.at, p.lat, p.lon, p.accuracy_m) for p in
                  trail.read(s, subject_id, clock.now() - timedelta(hours=2), clock.now() + timedelta(minutes=5))]
        st = SubjectState.from_dict(s.scalars(select(MonitorState.state)
                                              .where(MonitorState.subject_id == subject_id)).one())
    return alerts, points, (st.last_seen, st.curfews_checked_to, st.decided_to)


def test_many_devices_in_one_turn_are_judged_as_one_device_at_a_time(client, clock, container, agencies):
    clock.advance(timedelta(hours=7, minutes=30))  # 19:30 on 2027-01-15
    twins = []
    for i in range(PEOPLE):
        a, b = (enrol(container, agencies["home_office"], home=HOME, since=ORDER_START, until=ORDER_END,
                      exclusions=[EXCLUSION]) for _ in range(2))
        for p in (a, b):
            _upload(client, clock, p, i % 4)
        twins.append((a, b, i % 4))
    together, alone = Pipeline(container), Pipeline(container)
    mine = {a.device_id for a, _, _ in twins}
    together.pending_devices = lambda limit=512: [d for d in Pipeline.pending_devices(together, limit) if d in mine]
    statements = {"n": 0}
    event.listen(container.engine, "before_cursor_execute",
                 lambda *_a, **_k: statements.__setitem__("n", statements["n"] + 1))
    judged, shared, each = 0, 0, 0
    for late in (False, True):
        if late:
            for a, b, kind in twins:
                for p in (a, b):
                    _upload(client, clock, p, kind, late=True)
        statements["n"] = 0
        while (t := together.run_once()).batches:
            judged += t.batches
        shared, statements["n"] = shared + statements["n"], 0
        for _, b, _ in twins:
            while alone.process_device(b.device_id).batches:
                pass
        each += statements["n"]
    assert judged == PEOPLE * BATCHES
    # Shared reads and one commit a turn, not a dozen statements a device (alerts and replays aside).
    assert shared < each / 2, (shared, each)
    kinds = set()
    for a, b, kind in twins:
        got, want = _outcome(container, clock, a.subject_id), _outcome(container, clock, b.subject_id)
        assert got == want, kind
        assert len(got[1]) == BATCHES * FIXES
        kinds |= {k for k, *_ in got[0]}
        if kind == 3:  # the late batch was judged again, at its own time
            assert any(k == "curfew_breach_started" and was_late for k, _, _, was_late in got[0]), got[0]
    assert {"curfew_breach_started", "exclusion_zone_entered", "strap_opened"} <= kinds, kinds
    with container.uow(Actor.system("test")) as uow:
        assert not uow.session.scalars(select(TelemetryBatch.id).where(TelemetryBatch.processed_at.is_(None))).all()
