"""Liveness (presentation-attack detection): a random head-movement challenge judged from landmarks,
and a passive colour-texture check trained by `custodes pad train`, combined by `assess_liveness`.

    from custodes.biometrics.liveness import draw_challenge, assess_liveness
    challenge = draw_challenge()                       # CSPRNG; .kind, .prompt, .nonce, .as_dict()
    result = assess_liveness(frames, challenge, faces=detections)   # frames: RGB, frame 0 neutral
    result.passed, result.passive_score, result.challenge_ok, result.reasons, result.model_version

Importing this package is cheap; OpenCV and the model file load on first use.
"""

from importlib import import_module

_EXPORTS = {
    "LivenessResult": "assessment",
    "assess_liveness": "assessment",
    "Challenge": "challenge",
    "ChallengeKind": "challenge",
    "ChallengeRules": "challenge",
    "ChallengeVerdict": "challenge",
    "draw_challenge": "challenge",
    "judge_challenge": "challenge",
    "PadModel": "passive",
    "load_pad_model": "passive",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"custodes.biometrics.liveness.{_EXPORTS[name]}"), name)
    raise AttributeError(name)


__all__ = sorted(_EXPORTS)
