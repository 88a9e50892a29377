"""The head-movement challenge: drawn unpredictably, judged from synthetic landmark sequences."""

from __future__ import annotations

from collections import Counter

import pytest

from custodes.biometrics.liveness.challenge import (
    PROMPTS,
    Challenge,
    ChallengeKind,
    ChallengeRules,
    draw_challenge,
    judge_challenge,
)


def sweep(head, yaw=0.0, pitch=0.0, steps=5):
    """Neutral frame, then a smooth movement to (yaw, pitch)."""
    return [head(yaw * i / steps, pitch * i / steps) for i in range(steps + 1)]


def test_draw_uses_every_kind_and_fresh_nonces():
    draws = [draw_challenge() for _ in range(400)]
    counts = Counter(d.kind for d in draws)
    assert set(counts) == set(ChallengeKind)
    assert min(counts.values()) > 50  # roughly uniform over four kinds
    assert len({d.nonce for d in draws}) == 400
    assert all(d.prompt == PROMPTS[d.kind] for d in draws)


def test_draw_comes_from_the_os_csprng(monkeypatch):
    import secrets

    monkeypatch.setattr(secrets, "choice", lambda seq: ChallengeKind.LOOK_DOWN)
    assert draw_challenge().kind is ChallengeKind.LOOK_DOWN


def test_challenge_round_trips_through_a_dict():
    c = draw_challenge()
    assert Challenge.from_dict(c.as_dict()) == c


@pytest.mark.parametrize(
    "kind, yaw, pitch",
    [
        (ChallengeKind.TURN_LEFT, 28, 0),
        (ChallengeKind.TURN_RIGHT, -28, 0),
        (ChallengeKind.LOOK_UP, 0, -25),
        (ChallengeKind.LOOK_DOWN, 0, 25),
        (ChallengeKind.TURN_LEFT, 30, 8),  # a turn with a little nod is still a turn
    ],
)
def test_the_asked_movement_passes(head, head5, kind, yaw, pitch):
    verdict = judge_challenge(Challenge(kind, "n"), sweep(head, yaw, pitch), points5=sweep(head5, yaw, pitch))
    assert verdict.ok, verdict.reasons
    assert verdict.movement >= verdict.required


@pytest.mark.parametrize("kind, pitch", [(ChallengeKind.LOOK_UP, -25), (ChallengeKind.LOOK_DOWN, 25)])
def test_a_nod_without_depth_or_without_points_does_not_pass(head, head5, kind, pitch):
    frames = sweep(head, 0, pitch)
    flat5 = [head5()] * len(frames)  # landmarks that moved like a nod, 5 points that kept their ratios
    assert "depth could not be measured" in judge_challenge(kind, frames).reasons[0]
    verdict = judge_challenge(kind, frames, points5=flat5)
    assert not verdict.ok and "flat picture" in verdict.reasons[0]
    assert judge_challenge(kind, frames, ChallengeRules(min_depth_change=float("-inf")), points5=flat5).ok


@pytest.mark.parametrize("kind", list(ChallengeKind))
def test_a_static_sequence_is_rejected(head, kind):
    verdict = judge_challenge(kind, [head(1, -1), head(0, 0), head(-1, 1), head(0.5, 0)])
    assert not verdict.ok
    assert verdict.reasons == ("no head movement visible in the frames",)


def test_turning_the_wrong_way_is_named(head):
    verdict = judge_challenge(ChallengeKind.TURN_LEFT, sweep(head, yaw=-30))
    assert not verdict.ok
    assert "moved the other way" in verdict.reasons[0] and "turn right" in verdict.reasons[0]


def test_a_nod_does_not_pass_for_a_turn(head):
    from custodes.biometrics.faces import Landmarks

    turned = head(24, 0)
    *eyes, (nx, ny) = turned.points
    # The same turn with the nose dropped by 0.5 inter-eye distances: mostly a nod.
    nodding = Landmarks((*eyes, (nx, ny + 0.5 * turned.inter_eye_distance)))
    verdict = judge_challenge(ChallengeKind.TURN_LEFT, [head(), nodding])
    assert not verdict.ok
    assert "wrong axis" in verdict.reasons[0]


def test_a_small_movement_is_too_small(head):
    verdict = judge_challenge(ChallengeKind.TURN_RIGHT, sweep(head, yaw=-12))
    assert not verdict.ok
    assert "too small" in verdict.reasons[0]


def test_mirrored_devices_swap_left_and_right(head):
    frames = sweep(head, yaw=28)
    assert judge_challenge(ChallengeKind.TURN_LEFT, frames).ok
    assert not judge_challenge(ChallengeKind.TURN_LEFT, frames, mirrored=True).ok
    assert judge_challenge(ChallengeKind.TURN_RIGHT, frames, mirrored=True).ok


def test_a_flat_photo_turned_like_a_card_does_not_pass(flat_print):
    # Turning a print changes its outline, not where the nose sits between the eyes.
    frames = [flat_print(yaw=y) for y in (0, 15, 30, 45)]
    assert not judge_challenge(ChallengeKind.TURN_LEFT, frames).ok
    assert not judge_challenge(ChallengeKind.TURN_RIGHT, frames).ok


def test_missing_faces_and_jumps_are_explained(head):
    assert judge_challenge(ChallengeKind.LOOK_UP, [None, head(0, -25)]).reasons == (
        "no face in the first (neutral) frame",)
    assert "face lost" in judge_challenge(ChallengeKind.LOOK_UP, [head(), None, None]).reasons[0]
    assert "at least 2 frames" in judge_challenge(ChallengeKind.LOOK_UP, [head()]).reasons[0]
    jump = [head(), head(30, 0, scale=80)]
    assert "face size jumps" in judge_challenge(ChallengeKind.TURN_LEFT, jump).reasons[0]
