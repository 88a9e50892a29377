"""Late data judged by its own time: rewind the subject to a checkpoint from before the late item,
replay its whole trail and status reports from there in time order, then supersede what the
replay no longer says.

An item is late when it is not newer than what the subject's state has already seen or decided
(`SubjectState.last_seen`, `decided_to`): a buffer uploaded after a coverage gap, a batch that
overtook an older one. Checkpoints (`monitor_checkpoints`) are states after every item up to
`as_of` with nothing decided later; one is written about every hour of data time. The result of
any interleaving of uploads and ticks is the result of judging the same data in one go.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from custodes.alerts import service as alerts
from custodes.alerts.models import Alert
from custodes.devices.models import Assignment
from custodes.rules import Event, RuleSet, SubjectState, evaluate_tick
from custodes.rules.proximity import PREFIX as PROXIMITY
from custodes.telemetry import trail
from custodes.telemetry.evaluation import evaluate
from custodes.telemetry.models import MonitorCheckpoint, TelemetryBatch
from custodes.telemetry.schemas import MAX_FUTURE

LATE_AFTER = timedelta(minutes=5)  # an alert raised this long after its instant says it is late
CHECKPOINT_EVERY = timedelta(hours=1)
CHECKPOINT_RETAIN = timedelta(days=35)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What the rules engine raises (and a replay can therefore confirm or contradict).
RULE_KINDS = frozenset({
    "exclusion_zone_entered", "inclusion_zone_exited", "curfew_breach_started", "curfew_no_fix", "battery_low",
    "battery_critical", "strap_opened", "strap_cut", "device_silent", "implausible_movement"})


def _ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def iso_z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def frontier(state: SubjectState) -> datetime | None:
    times = [t for t in (state.last_seen, state.decided_to) if t is not None]
    return max(times) if times else None


def is_late(state: SubjectState, earliest: datetime) -> bool:
    f = frontier(state)
    return f is not None and earliest <= f


@dataclass
class Replay:
    state: SubjectState  # judged up to where the old state had been checked to
    events: list[Event]
    frontier_state: SubjectState  # after the items only: the next checkpoint
    since: datetime | None  # the checkpoint it started from (None: from the very first item)


def replay(s: Session, subject_id: uuid.UUID, rules: RuleSet, now: datetime, earliest: datetime,
           old: SubjectState, turn_statuses: list[tuple[int, dict]]) -> Replay:
    """Re-judge everything of the subject from the last checkpoint before `earliest`."""
    s.flush()  # the trail segments and alerts of this turn are part of what is replayed
    cp = s.scalars(select(MonitorCheckpoint).where(MonitorCheckpoint.subject_id == subject_id,
                                                   MonitorCheckpoint.as_of < earliest)
                   .order_by(MonitorCheckpoint.as_of.desc()).limit(1)).first()
    # Checkpoints from after the late item never saw it: they are no longer states of the data.
    s.execute(delete(MonitorCheckpoint).where(MonitorCheckpoint.subject_id == subject_id,
                                              MonitorCheckpoint.as_of >= earliest))
    since = cp.as_of if cp else None
    start = SubjectState.from_dict(cp.state) if cp else SubjectState(subject_id=str(subject_id))
    cols, seqs = trail.columns_since(s, subject_id, since)
    statuses = _statuses_since(s, subject_id, since, turn_statuses)
    state, events = evaluate(start, rules, now, uuid.UUID(int=0), seqs, cols, statuses)
    # Proximity is not judged again: only the protected person's newest position is kept, so there
    # is nothing to compare older fixes with. The approach already judged stands (a replay that
    # forgot it would raise it a second time at the next fix).
    state = _with_proximity_of(state, old)
    frontier_state = state
    upto = old.curfews_checked_to  # what the ticks had already judged, judged again on all the data
    if upto is not None and (state.curfews_checked_to is None or upto > state.curfews_checked_to):
        state, more = evaluate_tick(state, rules, upto)
        events += more
    return Replay(state, events, frontier_state, since)


def _with_proximity_of(state: SubjectState, old: SubjectState) -> SubjectState:
    zones = {k: v for k, v in state.zones.items() if not k.startswith(PROXIMITY)}
    zones.update((k, v) for k, v in old.zones.items() if k.startswith(PROXIMITY))
    return state if zones == state.zones else state.evolve(zones=zones)


def _statuses_since(s: Session, subject_id: uuid.UUID, since: datetime | None,
                    turn_statuses: list[tuple[int, dict]]) -> list[dict]:
    spans = s.execute(select(Assignment.device_id, Assignment.starts_at, Assignment.ends_at)
                      .where(Assignment.subject_id == subject_id)).all()
    lo = -(2**62) if since is None else _ms(since)
    found: list[tuple[int, int, int, dict]] = []
    for device_id, start, end in spans:
        q = select(TelemetryBatch.seq, TelemetryBatch.statuses).where(
            TelemetryBatch.device_id == device_id, TelemetryBatch.processed_at.is_not(None))
        if since is not None:  # a status is never received before its own time (less the future tolerance)
            q = q.where(TelemetryBatch.received_at >= since - MAX_FUTURE)
        a, b = _ms(start), (_ms(end) if end else 2**62)
        for seq, items in s.execute(q):
            found += [(st["t_ms"], seq, st.get("index", 0), st) for st in items if lo < st["t_ms"] and a <= st["t_ms"] < b]
    found += [(st["t_ms"], seq, st.get("index", 0), st) for seq, st in turn_statuses if lo < st["t_ms"]]
    return [st for *_, st in sorted(found, key=lambda x: x[:3])]


def supersede(uow, subject_id: uuid.UUID, since: datetime | None, produced: set[str], by_batch: str,
              received_at: datetime) -> int:
    """Resolve, with the reason, every open rule alert after `since` that the replay did not raise."""
    q = select(Alert).where(Alert.subject_id == subject_id, Alert.kind.in_(RULE_KINDS), Alert.status != "resolved")
    if since is not None:
        q = q.where(Alert.occurred_at > since)
    n = 0
    for a in uow.session.scalars(q):
        if a.dedupe_key in produced:
            continue
        alerts.supersede(uow=uow, alert=a, note={"by_batch": by_batch, "received_at": iso_z(received_at)},
                         reason=f"contradicted by late fixes received {iso_z(received_at)} (batch {by_batch}): "
                                "judged again on all the data, this is no longer raised")
        n += 1
    return n


def late_note(e: Event, evidence: dict, received_at: datetime | None) -> dict | None:
    """Fix time, receive time and delay, for an alert raised well after its own instant."""
    if received_at is None:
        return None
    fix_at = evidence.get("fix_at") or evidence.get("status_at")
    at = datetime.fromisoformat(fix_at) if isinstance(fix_at, str) else e.at
    delay = received_at - at
    if delay <= LATE_AFTER:
        return None
    return {"fix_at": iso_z(at), "received_at": iso_z(received_at), "delay_s": delay.total_seconds()}


def save_checkpoint(s: Session, subject_id: uuid.UUID, state: SubjectState) -> None:
    """Keep the state after the items as a checkpoint, about once an hour of data time."""
    save_checkpoints(s, {subject_id: state})


def save_checkpoints(s: Session, states: dict[uuid.UUID, SubjectState]) -> None:
    """`save_checkpoint` for a whole pipeline turn: one query finds the subjects' latest checkpoints."""
    due = {sid: st for sid, st in states.items()
           if st.last_seen is not None and not (st.decided_to is not None and st.decided_to > st.last_seen)}
    if not due:  # otherwise not a state of the data alone
        return
    latest = dict(s.execute(select(MonitorCheckpoint.subject_id, func.max(MonitorCheckpoint.as_of))
                            .where(MonitorCheckpoint.subject_id.in_(list(due))).group_by(MonitorCheckpoint.subject_id)).all())
    for subject_id, state in due.items():
        as_of = state.last_seen
        if (last := latest.get(subject_id)) is not None and as_of - _aware(last) < CHECKPOINT_EVERY:
            continue
        if state.curfews_checked_to is not None and state.curfews_checked_to > as_of:
            state = state.evolve(curfews_checked_to=as_of)  # nothing was decided after as_of
        s.merge(MonitorCheckpoint(subject_id=subject_id, as_of=as_of, state=state.to_dict()))
        old = s.scalars(select(MonitorCheckpoint.as_of).where(
            MonitorCheckpoint.subject_id == subject_id, MonitorCheckpoint.as_of < as_of - CHECKPOINT_RETAIN)
            .order_by(MonitorCheckpoint.as_of.desc())).all()
        if len(old) > 1:  # keep the newest of the old ones: late data that old can still be re-judged
            s.execute(delete(MonitorCheckpoint).where(MonitorCheckpoint.subject_id == subject_id,
                                                      MonitorCheckpoint.as_of < _aware(old[0])))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
