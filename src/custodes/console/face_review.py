"""The face-review queue: both faces side by side, the machine's figures in plain words, and the
reviewer's decision (an adverse one waits for a second, different reviewer)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Form, Query
from fastapi.responses import Response
from sqlalchemy import select

from custodes.actor import Role
from custodes.access.models import User
from custodes.checkins.models import CheckInPrompt
from custodes.console import web
from custodes.console.caseload import reference
from custodes.review import service as review
from custodes.review.ports import evidence_of
from custodes.review.models import ADVERSE, ReviewDecisionCreate, ReviewDecisionKind
from custodes.subjects.models import Subject

VIEWERS = (Role.REVIEWER, Role.CASEWORKER)
DECIDERS = (Role.REVIEWER,)
MONITORS = (Role.REVIEWER, Role.AUDITOR, Role.ADMIN)
PURPOSE = "console: face review"
DECISION_WORDS = {ReviewDecisionKind.SAME_PERSON.value: "Same person", ADVERSE.value: "Different person",
                  ReviewDecisionKind.UNUSABLE.value: "Unusable (cannot tell from these photos)"}
REASON_WORDS = {"no_match": "the faces did not match well enough", "near_threshold": "the match was borderline",
                "liveness_failed": "the liveness check failed", "liveness_undetermined": "liveness could not be judged",
                "random_sample": "a random sample of verified check-ins, checked by people",
                "audit_sample": "an audit of a verified check-in (a random share is checked by people)",
                "repeated_failure_to_acquire": "no usable photo after several tries"}
STATUS_WORDS = {"open": "waiting for a reviewer", "awaiting_second": "waiting for a second reviewer",
                "closed": "closed"}
router = web.console_router()
web.add_nav("/review", "Face reviews", VIEWERS)


def _one_in(fmr: float) -> str:
    return f"1 in {round(1 / fmr):,}"


def explain(record: dict[str, Any] | None, score: float | None, threshold: float | None) -> list[tuple[str, str]]:
    """The machine's evidence as sentences a non-specialist can act on: (tone, sentence)."""
    record = record or {}
    out: list[tuple[str, str]] = []
    score = record.get("score", score)
    threshold = record.get("threshold", threshold)
    fmr = record.get("target_fmr")
    if score is not None and threshold is not None:
        level = f"the level that keeps false matches under {_one_in(fmr)}" if fmr else "the pass level"
        if score < threshold:
            out.append(("bad", f"The match score ({score:.3f}) is below {level} ({threshold:.3f}). The machine could "
                               "not confirm this is the same person. That alone does not show it is someone else: "
                               "light, angle, glasses or age also lower the score."))
        else:
            out.append(("ok", f"The match score ({score:.3f}) is at or above {level} ({threshold:.3f}): the faces "
                              "match as closely as the system requires."))
        if abs(score - threshold) < 0.05:
            out.append(("warn", "The score is close to the pass level, so small changes in the photo could tip it "
                                "either way: look at the faces themselves."))
    else:
        out.append(("warn", "No match score: the faces were not compared (no usable photo or no reference)."))
    q = record.get("quality") or {}
    if q:
        fig = q.get("figures") or {}
        bits = []
        if "brightness" in fig:
            bits.append(f"brightness {fig['brightness']:.0f} of 255")
        if "inter_eye_px" in fig:
            bits.append(f"eyes {fig['inter_eye_px']:.0f} pixels apart (more is sharper detail)")
        if "sharpness" in fig:
            bits.append(f"sharpness {fig['sharpness']:.2f}")
        detail = f" ({', '.join(bits)})" if bits else ""
        if q.get("passed"):
            out.append(("ok", f"The photo's quality was good enough to compare{detail}."))
        else:
            out.append(("bad", f"The photo's quality was not good enough: {q.get('message') or q.get('reason')}{detail}."))
    live = record.get("liveness")
    if live:
        if live.get("passed") is True:
            out.append(("ok", "The liveness check passed: the head moved as the challenge asked, as a live "
                              "person's does (a held-up photo or screen does not)."))
        elif live.get("passed") is False:
            why = ", ".join(r.replace("_", " ") for r in live.get("reasons") or []) or "no reason given"
            out.append(("bad", f"The liveness check failed ({why}). This can mean a photo or a screen was held up, or "
                               "simply that the person did not make the movement asked for."))
        else:
            out.append(("warn", "The liveness check could not decide either way."))
    return out


def rate_words(row) -> str:
    if not row.n:
        return "No decided items yet, so no figure."
    lo, hi = row.wilson95
    return (f"{row.k} of {row.n} ({row.share:.1%}); with 95 % confidence the true rate is between "
            f"{lo:.1%} and {hi:.1%}.")


@router.get("/review", dependencies=[web.page_requires(*VIEWERS)])
def queue(page: web.PageDep, status: Annotated[str, Query(pattern="^(open|awaiting_second|closed|)$")] = "",
          offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    if status:
        items, total = review.list_items(uow=page.uow, limit=50, offset=offset, status=status)
    else:  # what needs a decision: those waiting for a second reviewer first
        second, n2 = review.list_items(uow=page.uow, limit=50, offset=offset, status="awaiting_second")
        first, n1 = review.list_items(uow=page.uow, limit=50, offset=offset, status="open")
        items, total = second + first, n1 + n2
    names = dict(page.uow.session.execute(select(Subject.id, Subject.full_name).where(
        Subject.id.in_({i.subject_id for i in items}))).all()) if items else {}
    rates = review.error_rates(uow=page.uow) if page.officer.role in MONITORS else None
    page.uow.commit()
    return page.render("review_queue.html", title="Face-review queue", items=items, total=total, names=names,
                       show=status, rates=rates, rate_words=rate_words, reasons=REASON_WORDS,
                       statuses=STATUS_WORDS, reference=reference, offset=offset, limit=50)


@router.get("/review/{item_id}", dependencies=[web.page_requires(*VIEWERS)])
def item_page(page: web.PageDep, item_id: uuid.UUID) -> Response:
    d = review.detail(uow=page.uow, evidence=evidence_of(page.container), item_id=item_id)
    subject = page.uow.session.get(Subject, d.subject_id)
    prompt = page.uow.session.get(CheckInPrompt, d.prompt_id)
    reviewers = dict(page.uow.session.execute(select(User.id, User.username).where(
        User.id.in_({x.reviewer_id for x in d.decisions}))).all()) if d.decisions else {}
    me = uuid.UUID(page.officer.id)
    page.uow.commit()
    return page.render("review_item.html", title="Face review", d=d, subject=subject, prompt=prompt,
                       sentences=explain(d.decision_record, d.score, d.threshold), reviewers=reviewers,
                       already=any(x.reviewer_id == me for x in d.decisions),
                       can_decide=page.officer.role in DECIDERS and d.status != "closed",
                       words=DECISION_WORDS, reasons=REASON_WORDS, statuses=STATUS_WORDS, reference=reference)


@router.get("/review/{item_id}/photos/{photo_id}", dependencies=[web.page_requires(*VIEWERS)])
def photo(page: web.PageDep, item_id: uuid.UUID, photo_id: uuid.UUID) -> Response:
    """One face of the item, for the reviewer's eyes only: every fetch is an audited read."""
    data, kind = review.face_image(uow=page.uow, evidence=evidence_of(page.container), item_id=item_id,
                                   photo_id=photo_id, purpose=PURPOSE)
    page.uow.commit()
    return Response(data, media_type=kind, headers={"Cache-Control": "no-store"})


@router.post("/review/{item_id}/decide", dependencies=[web.page_requires(*DECIDERS)])
def decide(page: web.PageDep, item_id: uuid.UUID, decision: Annotated[ReviewDecisionKind, Form()],
           reason: Annotated[str, Form(min_length=3, max_length=2000)]) -> Response:
    item = review.decide(uow=page.uow, item_id=item_id, data=ReviewDecisionCreate(decision=decision, reason=reason))
    page.uow.commit()
    said = DECISION_WORDS[decision.value]
    if item.status == "awaiting_second":
        message = (f"Recorded your decision: {said}. An adverse finding takes effect only when a second, different "
                   "reviewer agrees, so the item now waits for them.")
    else:
        message = f"Recorded your decision: {said}. The item is closed as {DECISION_WORDS[item.outcome].lower()}."
    return page.redirect(f"/review/{item_id}", message)
