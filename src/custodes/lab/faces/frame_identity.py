"""Challenge frames that show someone else: the challenge alone against the challenge plus a 1:1
check of every frame against the enrolment (see `custodes.lab.pad.frame_fusion` for the protocol).

Each LFW pair (a, b) becomes a check-in: photo a (which must pass the quality gate; the template
is made from it) and b as the challenge frame. The challenge is judged on their landmarks for each
of the four kinds, as the check-in judges it; the frame is embedded (no quality gate: a turned head
fails the gate's pose rule by design) and compared with the template at the shipped thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import track

from custodes.biometrics.metrics import wilson

FRAME_TARGET_FMRS = (1e-3, 1e-2)


def _frame(engine, rgb):
    faces = engine.detect(rgb)
    if not faces:
        return None, None
    from custodes.biometrics.sface_model import get_yunet

    face = faces[0]
    points = get_yunet().points_in_box(rgb, face.box)
    return face, points


def frame_trials(engine, lfw: Path, pairs_file: str = "pairsDevTrain.txt", limit: int = 400,
                 progress: bool = True) -> dict:
    from custodes.biometrics.engine import Acquisition
    from custodes.biometrics.image_input import load_rgb, pad_to
    from custodes.biometrics.liveness.challenge import ChallengeKind, judge_challenge
    from custodes.biometrics.quality import FaceNotAcquired
    from custodes.biometrics.sface_model import get_yunet
    from custodes.lab.faces.lfw import read_pairs

    pairs = read_pairs(lfw / pairs_file)
    chosen = [p for p in pairs if p.same][:limit] + [p for p in pairs if not p.same][:limit]
    rows = {True: [], False: []}
    skipped = 0
    for pair in track(chosen, description="LFW pairs as photo + challenge frame", disable=not progress,
                      transient=True):
        a, b = (pad_to(load_rgb(lfw / "images" / rel)) for rel in (pair.a, pair.b))
        try:
            photo = engine.acquire(a, for_template=True)
        except FaceNotAcquired:
            skipped += 1
            continue
        face_b, points_b = _frame(engine, b)
        if face_b is None:
            skipped += 1
            continue
        template = engine.enrol([photo])
        points_a = get_yunet().points_in_box(a, photo.face.box)
        probe = Acquisition(face=face_b, quality=photo.quality, embeddings=engine.embed(b, face_b))
        scores = {t: engine.compare(template, probe, target_fmr=t) for t in FRAME_TARGET_FMRS}
        challenge = {k.value: judge_challenge(k, [photo.face.landmarks, face_b.landmarks],
                                              points5=[points_a, points_b]).ok for k in ChallengeKind}
        rows[pair.same].append({"challenge": challenge, "matched": {t: s.matched for t, s in scores.items()},
                                "score": scores[FRAME_TARGET_FMRS[0]].score})
    return {"pairs_file": pairs_file, "skipped_no_face_or_gate": skipped,
            "unrelated": _summary(rows[False], attack=True), "same_person": _summary(rows[True], attack=False)}


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"rate": round(k / n, 4) if n else None, "count": k, "of": n, "ci95": [round(lo, 4), round(hi, 4)]}


def _summary(rows: list[dict], attack: bool) -> dict:
    """For unrelated frames: acceptance (challenge passed, and frame matched when required).
    For the same person's frames: how often the frame check refuses them."""
    n = len(rows)
    kinds = list(rows[0]["challenge"]) if rows else []
    out: dict = {"trials": n}
    if attack:
        for kind in kinds:
            passed = [r for r in rows if r["challenge"][kind]]
            out[kind] = {"challenge_alone": _rate(len(passed), n)} | {
                f"challenge_and_frame_match_at_fmr_{t:g}": _rate(sum(r["matched"][t] for r in passed), n)
                for t in FRAME_TARGET_FMRS}
        trials = n * len(kinds)
        out["any_kind_random_challenge"] = {"challenge_alone": _rate(sum(sum(r["challenge"].values()) for r in rows),
                                                                     trials)} | {
            f"challenge_and_frame_match_at_fmr_{t:g}": _rate(
                sum(sum(r["challenge"].values()) * r["matched"][t] for r in rows), trials) for t in FRAME_TARGET_FMRS}
        out["frame_matches_alone"] = {f"fmr_{t:g}": _rate(sum(r["matched"][t] for r in rows), n)
                                      for t in FRAME_TARGET_FMRS}
    else:
        out["frame_refused"] = {f"fmr_{t:g}": _rate(sum(not r["matched"][t] for r in rows), n)
                                for t in FRAME_TARGET_FMRS}
        out["median_score"] = round(float(np.median([r["score"] for r in rows])), 3) if rows else None
    return out
