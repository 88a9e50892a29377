from datetime import datetime, timedelta

from custodes.rules import (
    Circle,
    CurfewRule,
    RuleSet,
    SubjectState,
    ZoneRule,
    evaluate_tick,
)
from custodes.rules.curfew import window_at, windows_starting

from .rules_support import LAT0, LON0, at, kinds, minutes, run

NIGHT = CurfewRule("night", "home", "FREQ=DAILY", datetime(2027, 1, 1, 19), timedelta(hours=12),
                   tz="Europe/London", no_fix_after_s=1800)


def rules(**kw):
    home = ZoneRule("home", "inclusion", Circle(LAT0, LON0, 100.0), margin_m=10, min_dwell_s=60)
    return RuleSet(zones=(home,), curfews=(NIGHT,), **kw)


def test_windows_across_the_2027_uk_clock_changes():
    spring = windows_starting(NIGHT, at(2027, 3, 26), at(2027, 3, 29))
    assert spring == [(at(2027, 3, 26, 19), at(2027, 3, 27, 7)),
                      (at(2027, 3, 27, 19), at(2027, 3, 28, 6)),  # 19:00 GMT -> 07:00 BST: 11 h
                      (at(2027, 3, 28, 18), at(2027, 3, 29, 6))]
    autumn = windows_starting(NIGHT, at(2027, 10, 29), at(2027, 11, 1))
    assert autumn == [(at(2027, 10, 29, 18), at(2027, 10, 30, 6)),
                      (at(2027, 10, 30, 18), at(2027, 10, 31, 7)),  # 19:00 BST -> 07:00 GMT: 13 h
                      (at(2027, 10, 31, 19), at(2027, 11, 1, 7))]
    assert window_at(NIGHT, at(2027, 3, 28, 5, 59)) == (at(2027, 3, 27, 19), at(2027, 3, 28, 6))
    assert window_at(NIGHT, at(2027, 3, 28, 6, 0)) is None
    assert window_at(NIGHT, at(2027, 10, 31, 6, 59)) == (at(2027, 10, 30, 18), at(2027, 10, 31, 7))


def test_spring_forward_night_ends_at_0600_utc(fix_at):
    # Home all evening, walks out at 05:30 UTC (06:30 BST, inside the curfew), stays out.
    t0 = at(2027, 3, 27, 18, 0)
    home = [fix_at(t, 0, 0) for t in minutes(t0, 11, 3600)]  # hourly until 04:00
    out = [fix_at(t, 0, 600) for t in minutes(at(2027, 3, 28, 5, 30), 90)]
    _, events = run(rules(silent_after_s=86400), home + out)
    assert kinds(events) == ["curfew_breach_started", "curfew_breach_ended"]
    assert events[0].at == at(2027, 3, 28, 5, 31)  # after the 60 s dwell
    assert events[1].at == at(2027, 3, 28, 6, 0) and events[1].evidence["reason"] == "window_end"
    assert events[0].dedupe_key == "s-1:curfew:night:2027-03-27T19:00:00+00:00:breach:1"


def test_fall_back_night_runs_to_0700_utc_and_starts_at_1800_utc(fix_at):
    # Out at 06:30 UTC on 31 Oct is 06:30 GMT: still curfew. Out at 18:30 UTC on 30 Oct is
    # 19:30 BST: curfew too, although it would not be in winter.
    t0 = at(2027, 10, 30, 18, 20)
    out_evening = [fix_at(t, 0, 600) for t in minutes(t0, 15)]
    back = [fix_at(t, 0, 0) for t in minutes(at(2027, 10, 30, 18, 40), 3)]
    back += [fix_at(t, 0, 0) for t in minutes(at(2027, 10, 30, 19, 40), 10, 3600)]
    out_morning = [fix_at(t, 0, 600) for t in minutes(at(2027, 10, 31, 6, 30), 60)]
    _, events = run(rules(silent_after_s=86400), out_evening + back + out_morning)
    starts = [e.at for e in events if e.kind == "curfew_breach_started"]
    ends = [(e.at, e.evidence["reason"]) for e in events if e.kind == "curfew_breach_ended"]
    assert starts == [at(2027, 10, 30, 18, 21), at(2027, 10, 31, 6, 31)]
    assert ends == [(at(2027, 10, 30, 18, 41), "returned"), (at(2027, 10, 31, 7, 0), "window_end")]
    assert {e.category for e in events} == {"breach"}


def test_window_start_checks_presence_without_a_new_fix(fix_at):
    # Last seen outside at 18:50 UTC in January; nothing more arrives. The tick at 19:00:05
    # starts the breach at 19:00 exactly.
    items = [fix_at(t, 0, 800) for t in minutes(at(2027, 1, 12, 18, 40), 11)]
    state, events = run(rules(), items)
    assert events == []
    state, events = evaluate_tick(state, rules(), at(2027, 1, 12, 19, 0, 5))
    assert kinds(events) == ["curfew_breach_started"]
    assert events[0].at == at(2027, 1, 12, 19) and events[0].evidence["reason"] == "outside_at_window_start"
    # A second tick repeats nothing.
    assert evaluate_tick(state, rules(), at(2027, 1, 12, 19, 10))[1] == []


def test_window_start_at_home_raises_nothing_and_stale_fix_decides_nothing(fix_at):
    home = [fix_at(t, 0, 0) for t in minutes(at(2027, 1, 12, 18, 40), 11)]
    state, events = run(rules(), home + [("tick", at(2027, 1, 12, 19, 20))])
    assert events == []
    # Outside, but three hours before the window: too old to call a breach at 19:00.
    old = [fix_at(t, 0, 800) for t in minutes(at(2027, 1, 12, 15, 50), 11)]
    _, events = run(rules(silent_after_s=86400), old + [("tick", at(2027, 1, 12, 19, 20))])
    assert events == []


def test_no_fix_during_curfew_is_its_own_event_once(fix_at):
    home = [fix_at(t, 0, 0) for t in minutes(at(2027, 1, 12, 18, 40), 11)]
    r = rules(silent_after_s=86400)
    state, events = run(r, home + [("tick", at(2027, 1, 12, 19, 29))])
    assert events == []
    state, events = run(r, [("tick", at(2027, 1, 12, 19, 31)), ("tick", at(2027, 1, 12, 23))], state)
    assert kinds(events) == ["curfew_no_fix"]
    e = events[0]
    assert e.at == at(2027, 1, 12, 19, 30) and e.category == "integrity"
    assert e.dedupe_key == "s-1:curfew:night:2027-01-12T19:00:00+00:00:no_fix"


def test_events_do_not_depend_on_when_ticks_run(fix_at):
    items = [fix_at(t, 0, 0) for t in minutes(at(2027, 3, 27, 17), 30, 300)]
    items += [fix_at(t, 0, 900) for t in minutes(at(2027, 3, 28, 4), 40, 300)]
    _, sparse = run(rules(), items + [("tick", at(2027, 3, 29))])
    ticks = [("tick", t) for t in minutes(at(2027, 3, 27, 17), 31 * 24 * 4, 15 * 60)]
    merged = sorted(items + ticks, key=lambda i: (i[1] if isinstance(i, tuple) else i.at))
    _, dense = run(rules(), [i for i in merged if not isinstance(i, tuple) or i[1] <= at(2027, 3, 29)])
    assert [e.to_dict() for e in dense] == [e.to_dict() for e in sparse]
    assert "curfew_breach_started" in kinds(sparse) and "device_silent" in kinds(sparse)


def test_state_survives_a_json_round_trip_mid_window(fix_at):
    import json

    items = [fix_at(t, 0, 0) for t in minutes(at(2027, 1, 12, 18, 40), 40)]
    out = [fix_at(t, 0, 700) for t in minutes(at(2027, 1, 12, 20), 10)]
    state, _ = run(rules(), items)
    restored = SubjectState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert [e.to_dict() for e in run(rules(), out, restored)[1]] == [e.to_dict() for e in run(rules(), out, state)[1]]


def test_a_window_starting_in_the_skipped_hour_starts_at_the_same_instant():
    # 01:30 does not exist in London on 28 March 2027; it is read with the GMT offset (fold=0),
    # i.e. 01:30 UTC (02:30 BST); the window still ends at 05:30 wall-clock time (BST).
    early = CurfewRule("early", "home", "FREQ=DAILY", datetime(2027, 3, 20, 1, 30), timedelta(hours=4))
    assert windows_starting(early, at(2027, 3, 28), at(2027, 3, 29)) == [(at(2027, 3, 28, 1, 30), at(2027, 3, 28, 4, 30))]
    # Repeated hour in October: 01:30 happens twice; the first (BST) is used.
    assert windows_starting(early, at(2027, 10, 31), at(2027, 11, 1)) == [(at(2027, 10, 31, 0, 30), at(2027, 10, 31, 5, 30))]


def test_next_window_by_bisection_agrees_with_walking_the_recurrence():
    from dateutil.rrule import rrulestr

    from custodes.rules.curfew import next_window, window_of

    rules = [NIGHT, CurfewRule("wk", "home", "FREQ=WEEKLY;BYDAY=FR,SA", datetime(2026, 12, 4, 21), timedelta(hours=9)),
             CurfewRule("yr", "home", "FREQ=YEARLY;COUNT=3", datetime(2026, 6, 1, 22), timedelta(hours=8))]
    for rule in rules:
        rec = rrulestr(rule.rrule, dtstart=rule.dtstart_local)
        walked = [window_of(rule, occ) for occ in rec.between(datetime(2026, 1, 1), datetime(2031, 1, 1))]
        asked = [a for a, _ in walked if a.year < 2030]
        for after in [at(2026, 1, 1)] + asked + [a - timedelta(seconds=1) for a in asked]:
            want = next((w for w in walked if w[0] > after), None)
            assert next_window(rule, after) == want, (rule.curfew_id, after)
