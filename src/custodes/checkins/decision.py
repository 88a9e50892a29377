"""The check-in decision and the attempt throttle, as pure functions over plain values.

The machine only ever says `verified`, `not_verified` or `inconclusive`. None of these is an
adverse outcome: anything but `verified` is a question for a human reviewer, and only the review
queue (two different reviewers agreeing on "different person") can record an adverse outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    INCONCLUSIVE = "inconclusive"


# The only values the machine may write as a check-in outcome. Adverse outcomes are not here.
MACHINE_OUTCOMES = frozenset(Outcome)


class Reason(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NEAR_THRESHOLD = "near_threshold"
    FAILURE_TO_ACQUIRE = "failure_to_acquire"
    REPEATED_FAILURE_TO_ACQUIRE = "repeated_failure_to_acquire"
    LIVENESS_FAILED = "liveness_failed"
    LIVENESS_UNDETERMINED = "liveness_undetermined"
    TEMPLATE_OUTDATED = "template_outdated"
    NO_TEMPLATE = "no_template"


@dataclass(frozen=True)
class Liveness:
    """What the liveness check concluded: `passed` is None when it could not judge."""

    passed: bool | None
    reasons: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), **self.detail}


@dataclass(frozen=True)
class Evidence:
    """Everything measured about one submission. `score`/`threshold` are None when no match ran."""

    model_version: str
    quality: dict[str, Any]
    quality_passed: bool
    quality_reason: str | None = None
    liveness: Liveness | None = None
    score: float | None = None
    threshold: float | None = None
    target_fmr: float | None = None
    template_problem: Reason | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: Reason
    needs_review: bool
    # A failure to acquire lets the wearer retry inside the response window; it only goes to a
    # human when it repeats. Failed matches and failed liveness count towards the throttle.
    failure_to_acquire: bool
    counts_as_failure: bool
    evidence: Evidence

    def record(self) -> dict[str, Any]:
        """The decision record stored with the check-in (and shown to the reviewer)."""
        e = self.evidence
        return {
            "outcome": self.outcome.value, "reason": self.reason.value, "score": e.score,
            "threshold": e.threshold, "target_fmr": e.target_fmr, "model_version": e.model_version,
            "quality": e.quality, "liveness": e.liveness.as_dict() if e.liveness else None,
        }


def decide(evidence: Evidence, *, liveness_required: bool = True, near_margin: float = 0.0) -> Decision:
    """Grade one submission. `near_margin` widens "not a match" into "inconclusive" just below
    the threshold (0 keeps the calibrated operating point as the only line)."""

    def out(outcome: Outcome, reason: Reason, *, fta: bool = False, failure: bool = False) -> Decision:
        return Decision(outcome, reason, needs_review=outcome is not Outcome.VERIFIED and not fta,
                        failure_to_acquire=fta, counts_as_failure=failure, evidence=evidence)

    if not evidence.quality_passed:
        return out(Outcome.INCONCLUSIVE, Reason.FAILURE_TO_ACQUIRE, fta=True)
    if evidence.template_problem is not None:
        return out(Outcome.INCONCLUSIVE, evidence.template_problem)
    live = evidence.liveness
    if live is not None and live.passed is False:
        return out(Outcome.NOT_VERIFIED, Reason.LIVENESS_FAILED, failure=True)
    if live is None and liveness_required or live is not None and live.passed is None:
        return out(Outcome.INCONCLUSIVE, Reason.LIVENESS_UNDETERMINED, failure=True)
    if evidence.score is None or evidence.threshold is None:
        raise ValueError("a submission that passed the quality gate must carry a score and threshold")
    if evidence.score >= evidence.threshold:
        return out(Outcome.VERIFIED, Reason.MATCH)
    if evidence.score >= evidence.threshold - near_margin:
        return out(Outcome.INCONCLUSIVE, Reason.NEAR_THRESHOLD, failure=True)
    return out(Outcome.NOT_VERIFIED, Reason.NO_MATCH, failure=True)


def repeated_failure_to_acquire(evidence: Evidence) -> Decision:
    """A prompt whose attempts all failed the quality gate: a human looks at why."""
    return Decision(Outcome.INCONCLUSIVE, Reason.REPEATED_FAILURE_TO_ACQUIRE, needs_review=True,
                    failure_to_acquire=True, counts_as_failure=False, evidence=evidence)


# -- Throttle (NIST SP 800-63B-4, biometric comparison) -------------------------------------------
FAILURE_LIMIT = 5
FAILURE_LIMIT_WITH_PAD = 10
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    allowed: bool
    consecutive_failures: int
    limit: int
    retry_at: datetime | None = None

    def retry_after(self, now: datetime) -> int:
        return 0 if self.retry_at is None else max(1, int((self.retry_at - now).total_seconds() + 0.999))


def throttle(consecutive_failures: int, last_failure_at: datetime | None, now: datetime, *,
             pad: bool) -> Throttle:
    """After 5 consecutive failed comparisons (10 when presentation-attack detection runs), each
    further attempt waits at least 30 s, doubling with every further failure (SP 800-63B-4 §3.2.3)."""
    limit = FAILURE_LIMIT_WITH_PAD if pad else FAILURE_LIMIT
    if consecutive_failures < limit or last_failure_at is None:
        return Throttle(True, consecutive_failures, limit)
    extra = consecutive_failures - limit
    delay = min(FIRST_DELAY * (2 ** min(extra, 20)), MAX_DELAY)
    retry_at = last_failure_at + delay
    return Throttle(now >= retry_at, consecutive_failures, limit, None if now >= retry_at else retry_at)
