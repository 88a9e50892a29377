"""`custodes bench liveness`: time of the liveness decision on real 640x480 NUAA frames.

Three figures per check-in of a photo plus challenge frames: the passive check given the face
boxes, the whole `assess_liveness` with face tracking, and the baseline of the same decision with
a whole-frame HOG search of every frame, measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from rich.progress import track

FRAMES_PER_CHECK_IN = 4


def _sequences(data: Path, count: int) -> list[list[Path]]:
    """The first frames of `count` bona fide NUAA sequences (files `<sequence>_<frame>.jpg`)."""
    from custodes.lab.pad.training import list_images

    runs: dict[str, list[tuple[int, Path]]] = {}
    for image in list_images(data):
        prefix, _, frame = image.path.stem.rpartition("_")
        if image.bona_fide and frame.isdigit():
            runs.setdefault(prefix, []).append((int(frame), image.path))
    chosen = [[p for _, p in sorted(v)[:FRAMES_PER_CHECK_IN]] for v in runs.values() if len(v) >= FRAMES_PER_CHECK_IN]
    return chosen[:count]


def _stats(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def bench_liveness(data: Path | None = None, check_ins: int = 19, repeats: int = 3) -> dict:
    from custodes.biometrics.dlib_model import DlibModels
    from custodes.biometrics.image_input import load_rgb
    from custodes.biometrics.liveness.assessment import assess_liveness
    from custodes.biometrics.liveness.challenge import draw_challenge
    from custodes.biometrics.liveness.passive import MODEL_PATH, load_pad_model
    from custodes.config import data_root

    data = Path(data) if data else data_root() / "pad" / "nuaa-dev"
    started = time.perf_counter()
    models, model = DlibModels.load(), load_pad_model()
    load_ms = (time.perf_counter() - started) * 1000
    runs = [[load_rgb(p) for p in seq] for seq in _sequences(data, check_ins)]
    if not runs:
        raise FileNotFoundError(f"no bona fide sequences of {FRAMES_PER_CHECK_IN} frames under {data}")
    times: dict[str, list[float]] = {"passive": [], "tracked": [], "given": [], "baseline": []}

    def timed(name: str, fn, per: int = 1):
        start = time.perf_counter()
        result = fn()
        times[name].append((time.perf_counter() - start) * 1000 / per)
        return result

    for frames in track(runs * repeats, description="check-ins", transient=True):
        challenge = draw_challenge()
        whole = timed("baseline", lambda: [models.detect(f) for f in frames])
        timed("baseline", lambda: assess_liveness(frames, challenge, whole, model=model))
        times["baseline"][-2:] = [sum(times["baseline"][-2:])]
        timed("tracked", lambda: assess_liveness(frames, challenge, model=model))
        first = whole[0][0] if whole[0] else None
        timed("given", lambda: assess_liveness(frames, challenge, first_face=first, model=model))
        timed("passive", lambda: [model.score_face(f, w[0].box) for f, w in zip(frames, whole, strict=True) if w],
              per=len(frames))
    report = {
        "frames_per_check_in": FRAMES_PER_CHECK_IN,
        "frame_size": f"{runs[0][0].shape[1]}x{runs[0][0].shape[0]}",
        "check_ins": len(runs) * repeats,
        "passive_check_per_face_given_box": _stats(times["passive"]),
        "assess_liveness_with_tracking": _stats(times["tracked"]),
        # In a check-in the quality gate has already found the photo's face (frame 0).
        "assess_liveness_with_tracking_photo_face_given": _stats(times["given"]),
        "baseline_whole_frame_detection_each_frame": _stats(times["baseline"]),
        "model_load_ms": round(load_ms, 1),
        "model_version": model.version,
        "model_file_bytes": MODEL_PATH.stat().st_size,
    }
    print(json.dumps(report, indent=2))
    return report
