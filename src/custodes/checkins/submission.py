"""A device's answer to a prompt: validate, grade, check liveness, match, decide, record.

The heavy work (decoding, detection, embeddings, liveness) runs with no transaction open, between
a short read of the prompt and a short locked write of the result (see `submit`). The outcome is only ever verified / not_verified / inconclusive; anything
but verified opens a review item for a human, and nothing adverse is recorded here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from custodes.actor import Actor
from custodes.biometrics import get_engine
from custodes.biometrics.liveness import Challenge, assess_liveness
from custodes.biometrics.liveness.frames import match_frames
from custodes.checkins import face_store
from custodes.checkins.crypto import FaceKeyRing
from custodes.checkins.decision import (
    Decision,
    Evidence,
    Liveness,
    Outcome,
    Reason,
    decide,
    repeated_failure_to_acquire,
    throttle,
)
from custodes.checkins.enrolment import active_enrolment
from custodes.checkins.models import CheckInAttempt, CheckInPrompt, FaceEnrolment, SubmissionRead
from custodes.checkins.service import review_request, subject_of_device
from custodes.checkins.upload import (
    FACE_WORK,
    MAX_FRAMES,
    CleanPhoto,
    PhotoRefused,
    decode_upload,
)
from custodes.errors import Conflict, NotFound, TooManyRequests
from custodes.review import intake
from custodes.uow import UnitOfWork

MAX_FAILURES_TO_ACQUIRE = 3  # then the prompt goes to a human instead of asking again
# A share of verified check-ins is reviewed as well (checkins/audit_sample.py, by the sweep), so
# that live false-match rates can be estimated; it is chosen there, never here.

MESSAGES = {
    Outcome.VERIFIED: "Check-in received. Thank you.",
    Outcome.NOT_VERIFIED: "Check-in received. A person will look at it; nothing happens automatically.",
    Outcome.INCONCLUSIVE: "Check-in received. A person will look at it; nothing happens automatically.",
}


def _liveness(result) -> Liveness:
    """Map the liveness module's result; "no frontal face to judge" is undetermined, not failed."""
    reasons = tuple(result.reasons)
    undetermined = not result.passed and result.passive_score is None and result.challenge_ok is not False
    return Liveness(None if undetermined else bool(result.passed), reasons, result.as_dict())


def consecutive_failures(*, uow: UnitOfWork, subject_id: uuid.UUID, limit: int):
    """Failed comparisons since the last verified one (failures to acquire do not count)."""
    rows = uow.session.execute(
        select(CheckInAttempt.counts_as_failure, CheckInAttempt.submitted_at)
        .where(CheckInAttempt.subject_id == subject_id, CheckInAttempt.failure_to_acquire.is_(False))
        .order_by(CheckInAttempt.submitted_at.desc()).limit(limit + 30)).all()
    count = 0
    for failed, _ in rows:
        if not failed:
            break
        count += 1
    return count, rows[0][1] if count else None


@dataclass(frozen=True)
class _Prompt:
    """What the face work needs of the prompt, read in a short first transaction."""

    id: uuid.UUID
    subject_id: uuid.UUID
    challenge: dict
    enrolment_id: uuid.UUID | None


def submit(*, container, actor: Actor, keys: FaceKeyRing, device_id: uuid.UUID, prompt_id: uuid.UUID,
           photo: bytes, frames: list[bytes], engine=None) -> SubmissionRead:
    """Three steps, so that no transaction is open during the face work (on SQLite a transaction
    holds the only write lock; on PostgreSQL the prompt row stays locked): check the prompt and
    read the template; decode, embed and judge liveness with no transaction open; then lock the
    prompt, check it again (another submission may have decided it meanwhile) and record."""
    with container.uow(actor) as uow:
        snap = _check_prompt(uow, device_id, prompt_id)
        uow.commit()  # the template read is audited
    if len(frames) > MAX_FRAMES:
        raise PhotoRefused("frames", "too_many_frames", f"send at most {MAX_FRAMES} challenge frames")
    rgb = decode_upload(photo, "photo")
    frame_rgbs = [decode_upload(f, f"frames[{i}]") for i, f in enumerate(frames)]
    engine = engine or get_engine()
    with FACE_WORK:
        faces0 = engine.detect(rgb)
        report = engine.assess(rgb, faces0)
    evidence = Evidence(model_version=engine.version, quality=report.as_dict(), quality_passed=report.passed,
                        quality_reason=report.reason)
    if report.passed:
        template = None
        if snap.enrolment_id is not None:  # read (and audited) only when there is a face to match
            with container.uow(actor) as uow:
                template = _read_template(uow, keys, snap.enrolment_id)
                uow.commit()
        with FACE_WORK:
            evidence = _evaluate(engine, snap, template, rgb, faces0, report, frame_rgbs)
    clean = CleanPhoto.from_pixels(rgb)
    with container.uow(actor) as uow:
        prompt = _lock_prompt(uow, device_id, snap)
        decision = decide(evidence)
        if decision.failure_to_acquire and prompt.failures_to_acquire + 1 >= MAX_FAILURES_TO_ACQUIRE:
            decision = repeated_failure_to_acquire(evidence)
        answer = _record(uow, prompt, device_id, snap.enrolment_id, keys, clean, decision)
        uow.commit()
    return answer


def _open_prompt(uow: UnitOfWork, device_id: uuid.UUID, prompt_id: uuid.UUID, *, lock: bool) -> CheckInPrompt:
    now = uow.clock.now()
    subject = subject_of_device(uow=uow, device_id=device_id, at=now)
    q = select(CheckInPrompt).where(CheckInPrompt.id == prompt_id, CheckInPrompt.subject_id == subject.id,
                                    CheckInPrompt.opens_at <= now)
    prompt = uow.session.scalars(q.with_for_update() if lock else q).first()
    if prompt is None:
        raise NotFound(f"prompt {prompt_id} not found")
    if prompt.status != "pending":
        raise Conflict(f"this prompt is already {prompt.status}")
    if now >= prompt.closes_at:
        raise Conflict("the response window for this prompt has closed")
    if prompt.challenge is None:
        raise Conflict("fetch the pending prompt first: it carries the liveness challenge to perform")
    return prompt


def _check_prompt(uow: UnitOfWork, device_id: uuid.UUID, prompt_id: uuid.UUID) -> _Prompt:
    prompt = _open_prompt(uow, device_id, prompt_id, lock=False)
    now = uow.clock.now()
    failures, last_failure = consecutive_failures(uow=uow, subject_id=prompt.subject_id, limit=10)
    gate = throttle(failures, last_failure, now, pad=True)
    if not gate.allowed:
        raise TooManyRequests(f"{failures} check-ins in a row were not verified; wait before trying again",
                              gate.retry_after(now))
    enrolment = active_enrolment(uow=uow, subject_id=prompt.subject_id)
    return _Prompt(prompt.id, prompt.subject_id, dict(prompt.challenge), enrolment.id if enrolment else None)


def _read_template(uow: UnitOfWork, keys: FaceKeyRing, enrolment_id: uuid.UUID) -> bytes | None:
    enrolment = uow.session.get(FaceEnrolment, enrolment_id)
    if enrolment is None or enrolment.status != "active":
        return None  # ended meanwhile: the locked re-check below refuses the submission
    return face_store.read_template(uow=uow, keys=keys, enrolment=enrolment, purpose="check-in verification")


def _lock_prompt(uow: UnitOfWork, device_id: uuid.UUID, snap: _Prompt) -> CheckInPrompt:
    """The prompt, locked for this submission, still open and still judged against the same template."""
    prompt = _open_prompt(uow, device_id, snap.id, lock=True)  # one submission per prompt at a time
    if dict(prompt.challenge) != snap.challenge:
        raise Conflict("the prompt's challenge changed while the photo was checked; fetch it again")
    enrolment = active_enrolment(uow=uow, subject_id=prompt.subject_id)
    if (enrolment.id if enrolment else None) != snap.enrolment_id:
        raise Conflict("the face enrolment changed while the photo was checked; submit again")
    return prompt


def _evaluate(engine, snap: _Prompt, template: bytes | None, rgb, faces0, report, frame_rgbs) -> Evidence:
    from custodes.biometrics import Template, TemplateMismatch
    from custodes.biometrics.engine import Acquisition

    # The photo's face (already found by the quality gate) seeds the liveness module's tracker,
    # which looks for it near the same place in the challenge frames instead of searching each whole frame.
    frames = [rgb, *frame_rgbs]
    checked = assess_liveness(frames, Challenge.from_dict(snap.challenge), first_face=faces0[0])
    live = _liveness(checked)
    fields = dict(model_version=engine.version, quality=report.as_dict(), quality_passed=True, liveness=live)
    if template is None:
        return Evidence(**fields, template_problem=Reason.NO_TEMPLATE)
    probe = Acquisition(face=faces0[0], quality=report, embeddings=engine.embed(rgb, faces0[0]))
    try:
        stored = Template.from_bytes(template)
        result = engine.compare(stored, probe)
        if result.matched:
            # The challenge frames must show the enrolled person too, or any two photos whose
            # landmarks move the right way would pass the challenge. (A photo that does not match
            # is "no_match" whatever the frames show.)
            fields["liveness"] = _with_frames(live, match_frames(engine, stored, frames, checked.faces))
    except TemplateMismatch:
        return Evidence(**fields, template_problem=Reason.TEMPLATE_OUTDATED)
    return Evidence(**fields, score=result.score, threshold=result.threshold, target_fmr=result.target_fmr)


def _with_frames(live: Liveness, frames) -> Liveness:
    """A challenge frame of someone else fails liveness (a human reviews it), whatever else passed."""
    detail = {**live.detail, "frames": frames.as_dict()}
    if frames.ok:
        return Liveness(live.passed, live.reasons, detail)
    reasons = live.reasons + frames.reasons
    return Liveness(False, reasons, detail | {"passed": False, "reasons": list(reasons)})


def _record(uow: UnitOfWork, prompt: CheckInPrompt, device_id: uuid.UUID, enrolment_id: uuid.UUID | None,
            keys: FaceKeyRing, photo: CleanPhoto, decision: Decision) -> SubmissionRead:
    now = uow.clock.now()
    e = decision.evidence
    attempt = CheckInAttempt(
        id=uuid.uuid4(), prompt_id=prompt.id, subject_id=prompt.subject_id, device_id=device_id, submitted_at=now,
        outcome=decision.outcome.value,
        reason=e.quality_reason if decision.failure_to_acquire and e.quality_reason else decision.reason.value,
        score=e.score, threshold=e.threshold, target_fmr=e.target_fmr, model_version=e.model_version,
        quality=e.quality, liveness=e.liveness.as_dict() if e.liveness else None,
        counts_as_failure=decision.counts_as_failure, failure_to_acquire=decision.failure_to_acquire,
        enrolment_id=enrolment_id)
    uow.session.add(attempt)
    uow.session.flush()
    probe = face_store.add_photo(uow=uow, keys=keys, subject_id=prompt.subject_id, role="probe", image=photo,
                                 attempt_id=attempt.id)
    uow.session.flush()  # no ORM relationship orders these inserts, so the photo row goes in first
    attempt.probe_photo_id = probe.id
    prompt.attempts += 1
    prompt.device_id = device_id
    if decision.failure_to_acquire:
        prompt.failures_to_acquire += 1
    if decision.failure_to_acquire and not decision.needs_review:
        left = MAX_FAILURES_TO_ACQUIRE - prompt.failures_to_acquire
        return SubmissionRead(prompt_id=prompt.id, attempt_id=attempt.id, status="retry", outcome=decision.outcome,
                              reason=attempt.reason, next_challenge=prompt.challenge,
                              message=f"{e.quality.get('message') or 'Try again'} ({left} tries left)")
    prompt.status, prompt.outcome, prompt.reason = "decided", decision.outcome.value, decision.reason.value
    prompt.decision, prompt.decided_at = decision.record(), now
    if decision.needs_review:
        intake.open_item(uow=uow, request=review_request(prompt, attempt, decision.reason.value))
    return SubmissionRead(prompt_id=prompt.id, attempt_id=attempt.id, status="decided", outcome=decision.outcome,
                          reason=decision.reason.value, message=MESSAGES[decision.outcome])
