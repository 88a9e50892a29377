"""A fixed sample of real faces scored end to end, to show that a speed or memory change to the
engine leaves its scores as they were.

Four LFW people with seven or eight photos each, every photo centred on a 640x480 check-in
frame: a 3-photo template per person from their first three photos that pass the gate, every
later photo as a probe against every template (genuine and impostor comparisons), plus the
passive liveness logits of NUAA live and attack frames. `python -m custodes.lab.faces.fixed_sample
OUT.json` records them; `tests/biometrics/test_fixed_sample_scores.py` compares the engine with
the recorded file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from custodes.config import data_root

PEOPLE = ("Jennifer_Lopez", "Zhu_Rongji", "Hans_Blix", "Angelina_Jolie")
NUAA_FRAMES = ("ClientRaw/0001", "ClientRaw/0004", "ImposterRaw/0001", "ImposterRaw/0004")
FRAMES_PER_FOLDER = 3


def _acquire_all(engine, folder: Path):
    from custodes.biometrics.image_input import load_rgb, pad_to
    from custodes.biometrics.quality import FaceNotAcquired

    out = []
    for path in sorted(folder.glob("*.jpg")):
        rgb = pad_to(load_rgb(path))
        try:
            out.append((path.name, rgb, engine.acquire(rgb)))
        except FaceNotAcquired as exc:
            out.append((path.name, rgb, exc.reason))
    return out


def score_sample(engine, data: Path | None = None) -> dict:
    """Every comparison and passive logit of the sample, keyed by a readable name."""
    from custodes.biometrics.image_input import load_rgb
    from custodes.biometrics.liveness import load_pad_model

    data = data or data_root()
    lfw = data / "faces" / "lfw-view1" / "images"
    templates, probes, skipped = {}, {}, {}
    for person in PEOPLE:
        acquired = _acquire_all(engine, lfw / person)
        usable = [(name, rgb) for name, rgb, acq in acquired if not isinstance(acq, str)]
        skipped.update({name: acq for name, _, acq in acquired if isinstance(acq, str)})
        templates[person] = engine.enrol([rgb for _, rgb in usable[:3]])
        probes.update({name: acq for name, _, acq in acquired[3:] if not isinstance(acq, str)
                       and name not in {n for n, _ in usable[:3]}})
    comparisons = {}
    for person, template in templates.items():
        for name, acq in probes.items():
            result = engine.compare(template, acq)
            comparisons[f"{person} <- {name}"] = {"score": result.score, "matched": result.matched,
                                                  "genuine": name.startswith(person)}
    pad = load_pad_model()
    passive = {}
    for folder in NUAA_FRAMES:
        for path in sorted((data / "pad" / "nuaa-dev" / folder).glob("*.jpg"))[:FRAMES_PER_FOLDER]:
            rgb = load_rgb(path)
            faces = engine.detect(rgb)
            if faces:
                passive[f"{folder}/{path.name}"] = pad.score_face(rgb, faces[0].box)
    return {"engine_version": engine.version, "pad_version": pad.version, "gate_refused": skipped,
            "comparisons": comparisons, "passive_logits": passive, "liveness": _liveness(engine, data)}


def _liveness(engine, data: Path) -> dict:
    """`assess_liveness` on the photo plus two tracked frames, as a check-in runs it, for a turn
    and a pitch challenge (the pitch one also measures YuNet's depth cue)."""
    from custodes.biometrics.image_input import load_rgb
    from custodes.biometrics.liveness import Challenge, ChallengeKind, assess_liveness

    out = {}
    for folder in NUAA_FRAMES:
        frames = [load_rgb(p) for p in sorted((data / "pad" / "nuaa-dev" / folder).glob("*.jpg"))[:FRAMES_PER_FOLDER]]
        faces = engine.detect(frames[0])
        if not faces:
            continue
        for kind in (ChallengeKind.TURN_LEFT, ChallengeKind.LOOK_UP):
            result = assess_liveness(frames, Challenge(kind, "fixed"), first_face=faces[0])
            out[f"{folder} {kind.value}"] = {"passive_score": result.passive_score,
                                             "frame_scores": list(result.frame_scores),
                                             "movement": result.challenge.movement, "reasons": list(result.reasons)}
    return out


if __name__ == "__main__":
    from custodes.biometrics import get_engine

    Path(sys.argv[1]).write_text(json.dumps(score_sample(get_engine()), indent=1, sort_keys=True) + "\n")
