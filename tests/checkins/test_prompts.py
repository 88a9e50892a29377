"""The prompt draw never breaks the policy, stays right across DST, and is not predictable."""

from __future__ import annotations

import functools
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from custodes.checkins import prompts
from custodes.checkins.prompts import (
    CheckInPolicy,
    PolicyError,
    candidate_minutes,
    draw_day,
    draw_days,
)

DAYS = 10_000
LONDON = CheckInPolicy(
    prompts_per_day=5,
    waking_start=time(7),
    waking_end=time(22),
    time_zone="Europe/London",
    quiet_hours=((time(12), time(13)),),
    min_gap_minutes=60,
    response_window_minutes=15,
)
POLICIES = {
    "london": LONDON,
    # Half-hour DST shift, two quiet periods, gap shorter than the response window.
    "lord_howe": CheckInPolicy(4, time(8, 30), time(21), "Australia/Lord_Howe",
                               ((time(10), time(10, 45)), (time(17, 15), time(18))), 20, 30),
    # Night worker: waking window wraps midnight, and DST changes happen inside it.
    "new_york_night": CheckInPolicy(5, time(18), time(6, 30), "America/New_York",
                                    ((time(23, 30), time(0, 15)),), 90, 10),
    # Whole-day window: only quiet hours and the gap across midnight constrain it.
    "kolkata_all_day": CheckInPolicy(3, time(0), time(0), "Asia/Kolkata", ((time(1), time(6)),), 240, 20),
}


def _in(minute: int, start: time, end: time) -> bool:
    s, e = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if s == e:
        return True
    return s <= minute < e if s < e else (minute >= s or minute < e)


@functools.cache
def _allowed_minutes(policy: CheckInPolicy) -> tuple[bool, ...]:
    """For each local minute of the day: inside the waking window and outside every quiet period."""
    return tuple(_in(m, policy.waking_start, policy.waking_end)
                 and not any(_in(m, q_start, q_end) for q_start, q_end in policy.quiet_hours)
                 for m in range(1440))


def assert_day_obeys(policy: CheckInPolicy, day: date, slots, prev_open: datetime | None) -> None:
    """Check one drawn day minute by minute with zoneinfo, independently of the draw's own code."""
    zone = ZoneInfo(policy.time_zone)
    assert len(slots) <= policy.prompts_per_day <= 5
    window = timedelta(minutes=policy.response_window_minutes)
    for slot in slots:
        assert slot.opens_at.tzinfo is not None and slot.opens_at.second == 0
        assert slot.closes_at - slot.opens_at == window
        local_open = slot.opens_at.astimezone(zone)
        wraps = policy.waking_end <= policy.waking_start and policy.waking_end != policy.waking_start
        belongs_to = local_open.date() - timedelta(days=1) if wraps and local_open.time() < policy.waking_end else local_open.date()
        assert belongs_to == day, (day, local_open)
        last = (slot.closes_at - timedelta(minutes=1)).astimezone(zone)
        if last.utcoffset() == local_open.utcoffset():  # no clock change inside: walk the wall clock
            start = local_open.hour * 60 + local_open.minute
            walls = [(start + k) % 1440 for k in range(policy.response_window_minutes)]
        else:  # a DST change inside the window: convert every minute
            walls = [(lambda w: w.hour * 60 + w.minute)((slot.opens_at + timedelta(minutes=k)).astimezone(zone))
                     for k in range(policy.response_window_minutes)]
        allowed = _allowed_minutes(policy)
        bad = [m for m in walls if not allowed[m]]
        assert not bad, (day, local_open, "outside waking hours or inside quiet hours", bad)
        if prev_open is not None:
            gap = slot.opens_at - prev_open
            assert gap >= timedelta(minutes=policy.min_gap_minutes), (day, gap)
            assert gap >= window, (day, "prompts overlap")
        prev_open = slot.opens_at


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_draw_never_breaks_the_policy_over_10000_days(name: str) -> None:
    policy = POLICIES[name]
    prev: datetime | None = None
    short_days = 0
    for day, slots in draw_days(policy, date(2019, 1, 1), DAYS):
        assert_day_obeys(policy, day, slots, prev)
        short_days += len(slots) < policy.prompts_per_day
        prev = slots[-1].opens_at if slots else prev
    assert short_days == 0  # these policies leave room for every prompt, DST days included


def test_the_policy_checker_catches_each_kind_of_breach() -> None:
    """The 10,000-day test can fail: the checker rejects each way a schedule could break the policy."""
    day = date(2026, 6, 1)  # BST: local = UTC + 1
    at = lambda h, m: datetime(2026, 6, 1, h - 1, m, tzinfo=UTC)  # noqa: E731 - local wall time to UTC
    slot = lambda h, m, r=15: prompts.PromptSlot(at(h, m), at(h, m) + timedelta(minutes=r))  # noqa: E731
    for slots, prev in [
        ([slot(12, 40)], None),  # in quiet hours
        ([slot(12, 20)], None),  # the response window runs into quiet hours
        ([slot(6, 50)], None),  # before waking
        ([slot(21, 50)], None),  # the window runs past the end of waking hours
        ([slot(9, 0), slot(9, 30)], None),  # closer than the minimum gap
        ([slot(9, 0)], at(8, 30)),  # too close to the previous day's last prompt (as carried over)
        ([slot(9, 0, 20)], None),  # wrong response window
        ([slot(9, 0)] * 6, None),  # too many
    ]:
        with pytest.raises(AssertionError):
            assert_day_obeys(LONDON, day, slots, prev)
    assert_day_obeys(LONDON, day, [slot(9, 0), slot(10, 0)], None)  # and a good day passes


def test_dst_days_use_real_instants() -> None:
    london = ZoneInfo("Europe/London")
    # Spring forward (01:00 -> 02:00): a 00:30-03:30 window holds only two real hours.
    spring = CheckInPolicy(1, time(0, 30), time(3, 30), "Europe/London", (), 0, 1)
    assert len(candidate_minutes(spring, date(2026, 3, 29))) == 120
    assert len(candidate_minutes(spring, date(2026, 3, 22))) == 180
    # Fall back (02:00 -> 01:00): 01:30-03:30 holds 01:30-01:59 twice but never 01:00-01:29.
    autumn = CheckInPolicy(1, time(1, 30), time(3, 30), "Europe/London", (), 0, 1)
    cands = candidate_minutes(autumn, date(2026, 10, 25))
    walls = [(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=int(m))).astimezone(london) for m in cands]
    assert len(cands) == 150
    assert all(w.time() >= time(1, 30) for w in walls)
    assert sum(w.time() < time(2) for w in walls) == 60


def test_tight_day_gets_fewer_prompts_rather_than_a_broken_policy() -> None:
    tight = CheckInPolicy(5, time(9), time(13), "Europe/London", (), 60, 15)  # room for 4 at most
    slots = draw_day(tight, date(2026, 6, 1))
    assert len(slots) == 4
    assert_day_obeys(tight, date(2026, 6, 1), slots, None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompts_per_day": 6}, "prompts_per_day"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"response_window_minutes": 0}, "response_window_minutes"),
        ({"quiet_hours": ((time(1), time(1)),)}, "quiet_hours"),
    ],
)
def test_bad_policy_names_the_field(kwargs: dict, field: str) -> None:
    base = {"prompts_per_day": 3, "waking_start": time(8), "waking_end": time(20), "time_zone": "Europe/London"}
    with pytest.raises(PolicyError) as err:
        CheckInPolicy(**{**base, **kwargs})
    assert err.value.field == field


def test_default_source_is_the_operating_systems_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []

    class Spy(random.SystemRandom):
        def __init__(self) -> None:
            made.append(self)
            super().__init__()

    monkeypatch.setattr(prompts.secrets, "SystemRandom", Spy)
    draw_day(LONDON, date(2026, 6, 1))
    assert len(made) == 1


# --- Unpredictability -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def london_days() -> list[list[int]]:
    """10,000 drawn London days as local minute-of-day lists."""
    zone = ZoneInfo(LONDON.time_zone)
    out = []
    for _, slots in draw_days(LONDON, date(2019, 1, 1), DAYS):
        out.append([(lambda w: w.hour * 60 + w.minute)(s.opens_at.astimezone(zone)) for s in slots])
    return out


def test_times_spread_near_uniformly_over_the_allowed_minutes(london_days) -> None:
    hours = np.zeros(24)
    for day in london_days:
        for m in day:
            hours[m // 60] += 1
    allowed = np.array([len([m for m in range(h * 60, h * 60 + 60) if 420 <= m <= 1305 and not 720 - 15 < m < 780])
                        for h in range(24)])
    assert hours[allowed == 0].sum() == 0
    density = hours[allowed > 0] / allowed[allowed > 0]
    density /= hours.sum() / allowed.sum()
    # A minimum gap makes the ends of each allowed stretch slightly likelier; nothing else may stand out.
    assert density.min() > 0.8 and density.max() < 1.35, density.round(2)


def test_draw_matches_a_brute_force_uniform_sampler() -> None:
    """Rejection sampling (uniform N-subsets of allowed minutes, keep those meeting the gap) is
    uniform over valid schedules by construction; the fast draw must match it (chi-square)."""
    day = date(2026, 6, 1)
    cands = candidate_minutes(LONDON, day)
    ref = random.Random(7)
    fast_rng = random.SystemRandom()
    bins = np.linspace(cands.min(), cands.max() + 1, 31)
    ref_hist, fast_hist = np.zeros(30), np.zeros(30)
    n = 0
    while n < 4000:
        pick = np.sort(np.array(ref.sample(list(cands), 5)))
        if np.all(np.diff(pick) >= LONDON.gap_minutes):
            ref_hist += np.histogram(pick, bins)[0]
            n += 1
    for _ in range(4000):
        mins = [int((s.opens_at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 60) for s in draw_day(LONDON, day, fast_rng)]
        fast_hist += np.histogram(mins, bins)[0]
    keep = (ref_hist + fast_hist) > 0
    chi2 = (((ref_hist - fast_hist)[keep] ** 2) / (ref_hist + fast_hist)[keep]).sum()
    assert chi2 < 75, chi2  # df <= 29; P(chi2 > 75) < 1e-5 when both are uniform


def test_no_correlation_between_consecutive_days(london_days) -> None:
    arr = np.array(london_days, dtype=float)  # every London day has 5 prompts
    bound = 5 / np.sqrt(len(arr))  # five standard errors of a null correlation
    for rank in range(5):
        r = np.corrcoef(arr[:-1, rank], arr[1:, rank])[0, 1]
        assert abs(r) < bound, (rank, r)
    mean = arr.mean(axis=1)
    assert abs(np.corrcoef(mean[:-1], mean[1:])[0, 1]) < bound


def _predictor_edge(days: list[list[int]]) -> tuple[float, float, float]:
    """Train a naive Bayes predictor on the first 70 % of days and test it on the rest: it guesses
    the hour of a day's middle prompt from the hours of all of the previous day's prompts and the
    weekday. Report its held-out accuracy, the accuracy of always guessing the commonest hour,
    and that baseline's standard error."""
    hours = np.array([[m // 60 for m in day] for day in days])  # (days, 5)
    target = hours[1:, 2]
    features = np.column_stack([hours[:-1], np.arange(1, len(days)) % 7])  # previous day + weekday
    cut = int(len(target) * 0.7)
    prior = np.bincount(target[:cut], minlength=24) + 1.0
    score = np.tile(np.log(prior / prior.sum()), (len(target) - cut, 1))
    for f in range(features.shape[1]):
        table = np.ones((24, 24))  # counts with add-one smoothing: table[feature value, target hour]
        np.add.at(table, (features[:cut, f], target[:cut]), 1)
        score += np.log(table / table.sum(axis=0, keepdims=True))[features[cut:, f]]  # log P(value | hour)
    guess = score.argmax(axis=1)
    acc = float((guess == target[cut:]).mean())
    base = float((target[cut:] == prior.argmax()).mean())
    se = float(np.sqrt(base * (1 - base) / (len(target) - cut)))
    return acc, base, se


def test_a_predictor_trained_on_past_days_does_no_better_than_chance(london_days) -> None:
    acc, base, se = _predictor_edge(london_days)
    assert acc <= base + 4 * se, (acc, base)


def test_the_predictor_does_catch_a_predictable_draw(london_days) -> None:
    """The test above can fail: a draw that repeats yesterday's times on 30 % of days is caught."""
    rng = random.Random(11)
    lazy = [london_days[0]]
    for day in london_days[1:]:
        lazy.append(lazy[-1] if rng.random() < 0.3 else day)
    acc, base, se = _predictor_edge(lazy)
    assert acc > base + 4 * se, (acc, base)
