"""Every rule expansion is bounded in work and memory: runaway recurrences are refused before any
expansion, and an evaluation that would walk too many curfew instants stops with an error."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from custodes.rules import Circle, CurfewRule, RuleSet, SubjectState, ZoneRule, evaluate_tick
from custodes.rules.curfew import MAX_OCCURRENCES_PER_DAY, RuleBoundExceeded, check
from custodes.rules.engine import MAX_STEPS_PER_EVALUATION

from .rules_support import at

ALL = ",".join(map(str, range(60)))
HOURS = ",".join(map(str, range(24)))
RUNAWAY = ["FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;INTERVAL=-1", "FREQ=SECONDLY;FREQ=DAILY", "FREQ=SECONDLY",
           "FREQ=MINUTELY", f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={ALL};BYSECOND={ALL}", "FREQ=DAILY;BYSECOND=0,0",
           "FREQ=DAILY;COUNT=0", "FREQ=DAILY;BYHOUR=25", "INTERVAL=1", "FREQ=DAILY;X-NAME=1", "FREQ=DAILY;;"]
HOME = ZoneRule("home", "inclusion", Circle(51.5, -0.12, 100.0))


def curfew(rrule, start=datetime(2027, 1, 1, 19)):
    return CurfewRule("c", "home", rrule, start, timedelta(hours=1), tz="Europe/London")


@pytest.mark.parametrize("rrule", RUNAWAY)
def test_runaway_recurrences_are_refused_before_any_expansion(rrule):
    t = time.monotonic()
    with pytest.raises(RuleBoundExceeded):
        check(curfew(rrule))
    with pytest.raises(ValueError):  # and so no rule set can be built with one
        RuleSet(zones=(HOME,), curfews=(curfew(rrule),))
    assert time.monotonic() - t < 1.0


def test_the_bound_itself_is_allowed():
    hours = ",".join(str(h) for h in range(MAX_OCCURRENCES_PER_DAY))
    check(curfew(f"FREQ=DAILY;BYHOUR={hours};BYMINUTE=0;BYSECOND=0"))
    with pytest.raises(RuleBoundExceeded):
        check(curfew(f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE=0,30"))


def test_an_evaluation_that_would_walk_too_many_instants_stops():
    hours = ",".join(str(h) for h in range(MAX_OCCURRENCES_PER_DAY))
    rules = RuleSet(zones=(HOME,), curfews=(curfew(f"FREQ=DAILY;BYHOUR={hours};BYMINUTE=0;BYSECOND=0"),))
    state, _ = evaluate_tick(SubjectState("s"), rules, at(2027, 1, 2))
    days = MAX_STEPS_PER_EVALUATION // (2 * MAX_OCCURRENCES_PER_DAY) + 2
    t = time.monotonic()
    with pytest.raises(RuleBoundExceeded):
        evaluate_tick(state, rules, at(2027, 1, 2) + timedelta(days=days))
    assert time.monotonic() - t < 30
