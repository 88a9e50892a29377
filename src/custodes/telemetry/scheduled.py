"""The pipeline's scheduled checks: curfew windows that start, no fix during curfew, silent devices,
for every subject wearing a device now, whether or not anything arrived.

Every tick reaches everyone: subjects are taken in chunks in subject order (keyset, so a chunk costs
the same at 1,000 subjects as at 100,000), each chunk one short transaction with its states and rule
versions read in one query each.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from custodes.bootstrap import Container
from custodes.devices.models import Assignment
from custodes.rules import SubjectState, evaluate_tick
from custodes.telemetry import alerting, quarantine
from custodes.telemetry.models import MonitorState, TelemetryBatch, pending_batches
from custodes.telemetry.ruleset import RuleCache, RulesUnusable
from custodes.telemetry.turn import ACTOR, Turn, ensure_states, save_state

log = logging.getLogger(__name__)


def tick(container: Container, rules: RuleCache, chunk: int = 1000) -> Turn:
    turn = Turn()
    now = container.clock.now()
    after: uuid.UUID | None = None
    while True:
        done, after = _chunk(container, rules, now, after, chunk)
        turn.add(done)
        if after is None:
            return turn


def _chunk(container: Container, rules: RuleCache, now, after: uuid.UUID | None,
           chunk: int) -> tuple[Turn, uuid.UUID | None]:
    """Subjects after `after`; returns the turn and the last subject taken (None: that was all)."""
    turn = Turn()
    with container.uow(ACTOR) as uow:
        s = uow.session
        # A device with a backlog is left to the pipeline: its own fixes advance the same checks,
        # and judging it "silent" from a state the backlog is about to move would be wrong.
        backlog = select(TelemetryBatch.device_id).where(pending_batches())
        q = select(Assignment.subject_id, Assignment.device_id).where(
            Assignment.starts_at <= now, (Assignment.ends_at.is_(None)) | (Assignment.ends_at > now),
            Assignment.device_id.not_in(backlog))
        if after is not None:
            q = q.where(Assignment.subject_id > after)
        worn = s.execute(q.order_by(Assignment.subject_id).limit(chunk)).all()
        if not worn:
            return turn, None
        ids = [sid for sid, _ in worn]
        ensure_states(s, ids, now)  # two ticks (or a tick and a turn) then lock one row, not insert two
        rows = {r.subject_id: r for r in s.scalars(select(MonitorState).where(MonitorState.subject_id.in_(ids))
                                                   .with_for_update(skip_locked=True))}
        held = set(ids) - set(rows)
        versions = rules.versioned_many(s, ids)
        raising: list[tuple] = []
        for subject_id, device_id in worn:
            if subject_id in held:
                continue  # the pipeline holds it; it will advance the same checks itself
            row = rows.get(subject_id)
            state = SubjectState.from_dict(row.state) if row else SubjectState(subject_id=str(subject_id))
            v = versions[subject_id]
            try:
                if isinstance(v, RulesUnusable):
                    raise RulesUnusable(subject_id, v.version, v.cause)
                state, events = evaluate_tick(state, v.rules, now)
            except OperationalError:
                raise
            except Exception as exc:  # one subject's rules must never stop everyone's ticks
                log.warning("scheduled checks for subject %s failed: %s", subject_id, quarantine.one_line(exc))
                turn.alerts += alerting.unevaluable(uow, subject_id, exc, now)
                continue
            if events:
                raising.append((subject_id, device_id, row, state, events, v))
            else:
                save_state(s, subject_id, row, state, now, ticked=True)
        # "Silent" and "no fix" are judged on the absence of fixes, so a batch stored since the
        # query above (PostgreSQL reads each statement afresh; SQLite's writers wait their turn)
        # leaves its subject to the pipeline too: its fixes move the same checks.
        arrived = _arrived(s, [device_id for _, device_id, *_ in raising])
        for subject_id, device_id, row, state, events, v in raising:
            if device_id not in arrived:
                turn.alerts += alerting.raise_events(uow, subject_id, events, device_id, None, v)
                save_state(s, subject_id, row, state, now, ticked=True)
        uow.commit()
    return turn, (ids[-1] if len(worn) == chunk else None)


def _arrived(s, devices: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `devices` with a batch waiting for the pipeline, read now."""
    if not devices:
        return set()
    return set(s.scalars(select(TelemetryBatch.device_id).where(pending_batches(),
                                                              TelemetryBatch.device_id.in_(devices)).distinct()))
