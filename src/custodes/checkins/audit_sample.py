"""The live audit sample: a configured share of the check-ins the machine *verified* goes to human
review as an `audit_sample` item, so that live false matches (a different person verified) can be
counted per group at all; without it the reviewers would only ever see the machine's rejections.

Which check-ins are audited depends on the prompt's id and a server key alone: `selected` takes
nothing else, so no attribute of the person (and never a demographic label) can steer it. Keyed, so
a wearer who sees a prompt id cannot tell whether it will be audited; deterministic, so a pass is
idempotent across ticks and workers without remembering what it has already looked at.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from custodes.actor import Actor
from custodes.checkins.models import CheckInAttempt, CheckInPrompt
from custodes.checkins.service import review_request
from custodes.review import intake

REASON = "audit_sample"
LOOKBACK = timedelta(days=2)  # a verified prompt closed longer ago than this is not picked up any more
_SCALE = 2.0 ** 64


def sample_key(container) -> bytes:
    """A key of its own, derived from the server's audit key (never used as that key itself)."""
    return hmac.new(container.audit_key, b"custodes checkin audit sample v1", hashlib.sha256).digest()


def selected(key: bytes, prompt_id: uuid.UUID, share: float) -> bool:
    """Whether this verified check-in is audited: a keyed hash of its id, read as a number in [0, 1)."""
    draw = int.from_bytes(hmac.new(key, prompt_id.bytes, hashlib.sha256).digest()[:8], "big") / _SCALE
    return draw < share


@dataclass(frozen=True)
class AuditPass:
    verified: int  # verified check-ins looked at in this pass
    selected: int
    queued: int  # newly sent to review (the others were there already)


def audit_tick(container, *, share: float | None = None, batch: int = 5000) -> AuditPass:
    """One pass over recently closed verified check-ins at the container clock's now."""
    share = container.settings.checkin_audit_share if share is None else share
    key = sample_key(container)
    with container.uow(Actor.system("checkins.audit_sample")) as uow:
        now = uow.clock.now()
        prompts = uow.session.scalars(
            select(CheckInPrompt).where(CheckInPrompt.outcome == "verified", CheckInPrompt.closes_at > now - LOOKBACK,
                                        CheckInPrompt.opens_at <= now)
            .order_by(CheckInPrompt.closes_at, CheckInPrompt.id).limit(batch)).all()
        chosen = [p for p in prompts if selected(key, p.id, share)]
        already = intake.queued(uow=uow, prompt_ids=[p.id for p in chosen])
        queued = 0
        for prompt in chosen:
            if prompt.id in already:
                continue
            attempt = uow.session.scalars(
                select(CheckInAttempt).where(CheckInAttempt.prompt_id == prompt.id, CheckInAttempt.outcome == "verified")
                .order_by(CheckInAttempt.submitted_at.desc())).first()
            intake.open_item(uow=uow, request=review_request(prompt, attempt, REASON))
            queued += 1
        uow.commit()
    return AuditPass(verified=len(prompts), selected=len(chosen), queued=queued)
