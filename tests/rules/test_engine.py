from datetime import datetime, timedelta

from custodes.rules import (
    Circle,
    CurfewRule,
    Fix,
    RuleSet,
    StatusReport,
    SubjectState,
    ZoneRule,
    evaluate_fix,
    next_due,
)

from .rules_support import LAT0, LON0, at, kinds, minutes, offset, run

NIGHT = CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12))


def rules():
    return RuleSet(zones=(ZoneRule("home", "inclusion", Circle(LAT0, LON0, 100.0), min_dwell_s=60),
                          ZoneRule("victim", "exclusion", Circle(*offset(LAT0, LON0, 3000, 0), 250.0),
                                   min_dwell_s=60)),
                   curfews=(NIGHT,))


def test_out_of_order_fixes_do_not_flip_zone_state_backwards(fix_at):
    t0 = at(2027, 5, 1, 12)
    inside = [fix_at(t, 3000, 0) for t in minutes(t0, 5)]
    state, events = run(rules(), inside)
    assert kinds(events) == ["exclusion_zone_entered"]
    late = fix_at(t0 + timedelta(seconds=90), 0, 0)  # says "at home", but older than the last fix
    after, events = evaluate_fix(state, late, rules(), t0 + timedelta(minutes=10))
    assert after is state and events == []
    assert state.zones["victim"].side == 1


def test_duplicate_fixes_are_no_ops(fix_at):
    t0 = at(2027, 5, 1, 12)
    items = [fix_at(t, 3000, 0) for t in minutes(t0, 3)]
    once, e1 = run(rules(), items)
    twice, e2 = run(rules(), [f for f in items for _ in range(2)])
    assert once == twice and [e.to_dict() for e in e1] == [e.to_dict() for e in e2]


def test_fix_from_the_future_is_ignored(fix_at):
    f = fix_at(at(2027, 5, 1, 12, 10), 3000, 0)
    state = SubjectState("s-1")
    assert evaluate_fix(state, f, rules(), at(2027, 5, 1, 12)) == (state, [])


def test_flat_battery_during_curfew_is_a_device_fault_not_a_breach(fix_at):
    t0 = at(2027, 1, 12, 18)
    items = [fix_at(t, 0, 0, acc=8) for t in minutes(t0, 60)]
    items += [StatusReport(at(2027, 1, 12, 18, 30), 18, "closed", False),
              StatusReport(at(2027, 1, 12, 18, 50), 4, "closed", False)]
    items.sort(key=lambda i: i.at)
    # The battery dies at 19:00: no more fixes, no more status. Ticks through the night.
    items += [("tick", t) for t in minutes(at(2027, 1, 12, 19), 12 * 4, 900)]
    _, events = run(rules(), items)
    assert kinds(events) == ["battery_low", "battery_critical", "curfew_no_fix", "device_silent"]
    assert {e.category for e in events} == {"device_fault"}
    no_fix = events[2]
    assert no_fix.evidence["battery"] == "critical" and no_fix.at == at(2027, 1, 12, 19, 30)


def test_breach_stays_a_breach_when_the_battery_is_also_low(fix_at):
    t0 = at(2027, 1, 12, 19, 20)
    items = [StatusReport(at(2027, 1, 12, 19, 19), 15)] + [fix_at(t, 0, 900) for t in minutes(t0, 5)]
    _, events = run(rules(), items)
    assert kinds(events) == ["battery_low", "curfew_breach_started"]
    assert [e.category for e in events] == ["device_fault", "breach"]


def test_battery_hysteresis_strap_and_charging():
    t0 = at(2027, 5, 1, 12)
    pcts = [50, 21, 19, 21, 19, 22, 26, 19, 4, 3, 30]
    items = [StatusReport(t0 + timedelta(minutes=i), p) for i, p in enumerate(pcts)]
    items += [StatusReport(t0 + timedelta(minutes=20), 80, "open", True),
              StatusReport(t0 + timedelta(minutes=21), 80, "cut", True),
              StatusReport(t0 + timedelta(minutes=22), 80, "closed", False)]
    _, events = run(rules(), items)
    assert kinds(events) == ["battery_low", "battery_low", "battery_critical", "strap_opened", "charging_started",
                             "strap_cut", "strap_closed", "charging_stopped"]
    assert [e.category for e in events][3:7] == ["integrity", "device_fault", "integrity", "integrity"]
    assert len({e.dedupe_key for e in events}) == len(events)


def test_device_silent_and_resumed(fix_at):
    r = rules()
    state, _ = run(r, [fix_at(at(2027, 5, 1, 12), 0, 0)])
    assert next_due(state, r) == at(2027, 5, 1, 13)
    state, events = run(r, [("tick", at(2027, 5, 1, 12, 59)), ("tick", at(2027, 5, 1, 13, 5)),
                            fix_at(at(2027, 5, 1, 14), 0, 0)], state)
    assert kinds(events) == ["device_silent", "device_resumed"]
    assert events[0].at == at(2027, 5, 1, 13) and events[1].dedupe_key.startswith(events[0].dedupe_key)


def test_implausible_jump_is_one_episode_and_coarse_fixes_are_not_jumps(fix_at):
    t0 = at(2027, 5, 1, 12)
    walk = [fix_at(t, i * 60, 0) for i, t in enumerate(minutes(t0, 5))]
    glitch = [fix_at(t0 + timedelta(minutes=5), 40_000, 0), fix_at(t0 + timedelta(minutes=6), 300, 0),
              fix_at(t0 + timedelta(minutes=7), 360, 0)]
    _, events = run(rules(), walk + glitch)
    assert kinds(events) == ["implausible_movement"]
    e = events[0]
    assert e.category == "integrity" and e.evidence["to_fix_id"] == glitch[0].fix_id
    assert e.evidence["min_speed_mps"] > 500
    # Cell fixes 3 km apart a minute apart, each +-2 km: plausible.
    cells = [Fix(t0 + timedelta(minutes=i), *offset(LAT0, LON0, 3000 * (i % 2), 0), 2000, "cell")
             for i in range(6)]
    assert run(rules(), cells)[1] == []


def test_bad_rules_and_fixes_are_refused_with_a_reason():
    import math

    import pytest

    with pytest.raises(ValueError, match="inclusion zone"):
        RuleSet(zones=(ZoneRule("x", "exclusion", Circle(LAT0, LON0, 100.0)),),
                curfews=(CurfewRule("c", "x", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=8)),))
    with pytest.raises(ValueError, match="duration"):
        RuleSet(zones=(ZoneRule("h", "inclusion", Circle(LAT0, LON0, 100.0)),),
                curfews=(CurfewRule("c", "h", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(0)),))
    with pytest.raises(ValueError):
        RuleSet(curfews=(), zones=(ZoneRule("h", "inclusion", {"type": "Point", "coordinates": [0, 0]}),))
    for lat, lon, acc in ((math.nan, 0.0, 5.0), (91.0, 0.0, 5.0), (51.0, 0.0, -1.0), (51.0, 0.0, math.inf)):
        with pytest.raises(ValueError):
            Fix(at(2027, 1, 1), lat, lon, acc)
