"""The rules engine: pure evaluators deciding breaches, device faults and integrity signals.

Zones, curfews, device health and movement over plain value objects, with an injected `now`.

Stable interface (for the telemetry pipeline):

    from custodes.rules import (Fix, StatusReport, Circle, ZoneRule, CurfewRule, HealthThresholds,
                                RuleSet, SubjectState, Event, evaluate_fix, evaluate_status,
                                evaluate_tick, next_due)

    rules = RuleSet(zones=(ZoneRule("home", "inclusion", Circle(51.5, -0.12, 100.0)),),
                    curfews=(CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19),
                                        timedelta(hours=12), tz="Europe/London"),))
    state = SubjectState(subject_id="s-1")          # or SubjectState.from_dict(saved_json)
    state, events = evaluate_fix(state, fix, rules, now)
    state, events = evaluate_status(state, status, rules, now)
    state, events = evaluate_tick(state, rules, now)  # scheduled; next_due(state, rules) says when
    saved_json = state.to_dict()

* Build a RuleSet once per subject and reuse it (zone geometry is compiled at construction).
* Events fire on transitions only. Each has `kind`, `category` ("breach" | "device_fault" |
  "integrity"), `severity` ("info" needs no action: exits, ends, resumptions, charging),
  `at` (an instant decided by the data, never by when a tick ran), `evidence` and a stable
  `dedupe_key` (subject, rule, window or episode).
* Kinds: exclusion_zone_entered/exited, inclusion_zone_exited/returned (inclusion zones without
  a curfew), curfew_breach_started/ended, curfew_no_fix (device_fault when the battery is low or
  the device silent, else integrity; never a breach), battery_low, battery_critical,
  strap_opened, strap_cut, strap_closed, charging_started/stopped, device_silent,
  device_resumed, implausible_movement.
* A fix not newer than the last applied fix (duplicate, late arrival) is a no-op, as is a fix or
  status dated more than five minutes after `now`. Feed each device's items in time order.
* `custodes.rules.batch.BatchEvaluator(subject_ids, rulesets, states)` gives the same events
  for many subjects at once: `evaluate(FixBatch(subject, t_us, lat, lon, accuracy_m, fix_id,
  source), now)` and `tick(now)`; `state(i)` (or `all_states()`, in bulk) returns subject i's
  SubjectState to persist, carrying its columns so the next evaluator loads it in bulk. Fix ids
  there are integers; source codes index ("gps", "cell", "wifi"). Within a batch, fixes are put
  in (subject, time) order first. Tested equal to the scalar path on random populations.
* Zones are compiled in a local metric frame per zone (error < 0.1 % within 20 km of its centre).
  A fix is "in" only when its accuracy circle plus the zone margin is wholly inside, "out" when
  wholly outside, otherwise uncertain (no change); the new side must hold for `min_dwell_s`.
* `custodes.rules.proximity`: a protected person's latest position as a moving exclusion zone
  (`ProximityRule`, `Beacons`, `evaluate_proximity`), the zones' hysteresis, events that carry the
  distance only. `telemetry.evaluation.evaluate_many` runs it beside the zones for a whole turn.
* `custodes bench rules` measures the batch path as the pipeline calls it (`evaluate_many` over
  turns of 1-60-fix uploads) and over the whole population (see `custodes.lab.rules_bench`).
"""

from custodes.rules.engine import evaluate_fix, evaluate_status, evaluate_tick, next_due
from custodes.rules.models import (
    Circle,
    CurfewRule,
    Event,
    Fix,
    HealthThresholds,
    RuleSet,
    StatusReport,
    SubjectState,
    WindowState,
    ZoneRule,
    ZoneState,
)

__all__ = [
    "Circle", "CurfewRule", "Event", "Fix", "HealthThresholds", "RuleSet", "StatusReport",
    "SubjectState", "WindowState", "ZoneRule", "ZoneState",
    "evaluate_fix", "evaluate_status", "evaluate_tick", "next_due",
]
