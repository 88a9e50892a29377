"""The pure check-in decision and the SP 800-63B-4 throttle."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from custodes.checkins.decision import (
    MACHINE_OUTCOMES,
    Evidence,
    Liveness,
    Outcome,
    Reason,
    decide,
    repeated_failure_to_acquire,
    throttle,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LIVE = Liveness(True)


def ev(**kw) -> Evidence:
    base = dict(model_version="dlib=1;calibration=c1", quality={"passed": True}, quality_passed=True,
                liveness=LIVE, score=0.8, threshold=0.6, target_fmr=1e-3)
    return Evidence(**{**base, **kw})


def test_same_person_with_liveness_is_verified_and_not_reviewed() -> None:
    d = decide(ev())
    assert (d.outcome, d.reason, d.needs_review, d.counts_as_failure) == (Outcome.VERIFIED, Reason.MATCH, False, False)
    rec = d.record()
    assert rec["score"] == 0.8 and rec["threshold"] == 0.6 and rec["target_fmr"] == 1e-3
    assert rec["model_version"] == "dlib=1;calibration=c1" and rec["liveness"]["passed"] is True


def test_score_exactly_at_threshold_is_a_match() -> None:
    assert decide(ev(score=0.6)).outcome is Outcome.VERIFIED


def test_low_score_is_not_verified_and_goes_to_review() -> None:
    d = decide(ev(score=0.2))
    assert (d.outcome, d.reason, d.needs_review, d.counts_as_failure) == (Outcome.NOT_VERIFIED, Reason.NO_MATCH, True, True)


def test_near_margin_turns_a_close_miss_into_inconclusive() -> None:
    assert decide(ev(score=0.55), near_margin=0.1).reason is Reason.NEAR_THRESHOLD
    assert decide(ev(score=0.45), near_margin=0.1).reason is Reason.NO_MATCH


def test_failed_liveness_beats_a_high_score() -> None:
    d = decide(ev(liveness=Liveness(False, ("printed photo",)), score=0.99))
    assert (d.outcome, d.reason, d.needs_review) == (Outcome.NOT_VERIFIED, Reason.LIVENESS_FAILED, True)


def test_liveness_missing_or_undetermined_is_inconclusive() -> None:
    assert decide(ev(liveness=None)).reason is Reason.LIVENESS_UNDETERMINED
    assert decide(ev(liveness=Liveness(None))).outcome is Outcome.INCONCLUSIVE
    assert decide(ev(liveness=None), liveness_required=False).outcome is Outcome.VERIFIED


def test_failure_to_acquire_is_not_a_failed_match() -> None:
    d = decide(ev(quality_passed=False, quality_reason="too_dark", score=None, threshold=None))
    assert d.outcome is Outcome.INCONCLUSIVE and d.failure_to_acquire
    assert not d.needs_review and not d.counts_as_failure
    r = repeated_failure_to_acquire(d.evidence)
    assert r.needs_review and r.reason is Reason.REPEATED_FAILURE_TO_ACQUIRE


def test_outdated_template_goes_to_a_human() -> None:
    d = decide(ev(template_problem=Reason.TEMPLATE_OUTDATED, score=None, threshold=None))
    assert d.outcome is Outcome.INCONCLUSIVE and d.needs_review and not d.counts_as_failure


def test_every_combination_yields_a_machine_outcome_and_non_verified_reaches_a_human() -> None:
    """Exhaustive over the decision's inputs: the machine never emits anything but its three
    outcomes, and every non-verified result is reviewed (or, for a single failure to acquire,
    retried and reviewed if it repeats)."""
    livenesses = [None, Liveness(True), Liveness(False), Liveness(None)]
    for quality, live, score, problem, required, margin in itertools.product(
        [True, False], livenesses, [0.0, 0.59, 0.6, 1.0], [None, Reason.TEMPLATE_OUTDATED], [True, False], [0.0, 0.05]
    ):
        d = decide(ev(quality_passed=quality, liveness=live, score=score, template_problem=problem),
                   liveness_required=required, near_margin=margin)
        assert d.outcome in MACHINE_OUTCOMES
        if d.outcome is Outcome.VERIFIED:
            assert quality and problem is None and score >= 0.6 and (live is None and not required or live == LIVE)
        else:
            assert d.needs_review or (d.failure_to_acquire and repeated_failure_to_acquire(d.evidence).needs_review)


@pytest.mark.parametrize(("pad", "limit"), [(False, 5), (True, 10)])
def test_throttle_backs_off_exponentially_after_the_limit(pad: bool, limit: int) -> None:
    assert throttle(limit - 1, NOW, NOW, pad=pad).allowed
    t = throttle(limit, NOW, NOW + timedelta(seconds=29), pad=pad)
    assert not t.allowed and t.retry_at == NOW + timedelta(seconds=30)
    assert t.retry_after(NOW + timedelta(seconds=29)) == 1
    assert throttle(limit, NOW, NOW + timedelta(seconds=30), pad=pad).allowed
    assert throttle(limit + 1, NOW, NOW, pad=pad).retry_at == NOW + timedelta(minutes=1)
    assert throttle(limit + 2, NOW, NOW, pad=pad).retry_at == NOW + timedelta(minutes=2)
    assert throttle(limit + 40, NOW, NOW, pad=pad).retry_at == NOW + timedelta(hours=1)
