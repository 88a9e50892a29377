"""Finding the face in each challenge frame cheaply: search near the previous face, at reduced scale.

A full HOG search of a 640x480 frame costs about 30 ms on one core; a check-in sends several
frames and must decide within 150 ms. The head moves little between frames, so each frame is
searched only around the previous face, shrunk so the face is about 90 px wide (HOG's window is
80 px), and the 5 landmarks are then placed on the full-resolution frame. This uses the engine's
own dlib models (loaded once per process), never a second copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from custodes.biometrics.faces import DetectedFace, FaceBox, Landmarks

SEARCH_MARGIN = 0.6  # of the previous face's width, on each side
SEARCH_FACE_PX = 90


def _models():
    from custodes.biometrics.dlib_model import DlibModels

    return DlibModels.load()


def _landmarks(models, rgb: np.ndarray, box: FaceBox) -> Landmarks:
    import dlib

    shape = models.predictor(rgb, dlib.rectangle(box.left, box.top, box.right, box.bottom))
    return Landmarks(tuple((float(p.x), float(p.y)) for p in shape.parts()))


def find_near(rgb: np.ndarray, previous: FaceBox, models=None) -> list[DetectedFace]:
    """Faces in the region around `previous`, largest first, in full-frame coordinates."""
    models = models or _models()
    height, width = rgb.shape[:2]
    margin = SEARCH_MARGIN * previous.width
    left, top = max(int(previous.left - margin), 0), max(int(previous.top - margin), 0)
    right, bottom = min(int(previous.right + margin), width), min(int(previous.bottom + margin), height)
    if right - left < 40 or bottom - top < 40:
        return []
    scale = min(1.0, SEARCH_FACE_PX / max(previous.width, 1))
    region = np.ascontiguousarray(rgb[top:bottom, left:right])
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rects, scores, _ = models.detector.run(region, 0, 0.0)
    faces = []
    for rect, score in zip(rects, scores, strict=True):
        box = FaceBox(
            left=max(int(round(left + rect.left() / scale)), 0),
            top=max(int(round(top + rect.top() / scale)), 0),
            right=min(int(round(left + rect.right() / scale)), width - 1),
            bottom=min(int(round(top + rect.bottom() / scale)), height - 1),
        )
        faces.append(DetectedFace(box, _landmarks(models, rgb, box), float(score)))
    faces.sort(key=lambda f: f.box.width * f.box.height, reverse=True)
    return faces


def track_faces(frames: Sequence[np.ndarray], first: DetectedFace | None = None) -> list[list[DetectedFace]]:
    """Faces per frame for `assess_liveness`: each frame is searched near the last face found
    (for frame 0: `first`, e.g. from the quality gate, or a whole-frame search); a frame where the
    local search finds nothing is searched whole before it is given up."""
    models = _models()
    results: list[list[DetectedFace]] = []
    previous = first
    for i, rgb in enumerate(frames):
        if previous is None:
            whole = models.detect(rgb)
            # Re-found locally so every frame's box (and so its landmarks) comes from the same
            # reduced-scale search: mixing scales alone moves the pose proxies by up to ~0.1.
            found = (find_near(rgb, whole[0].box, models) or whole) if whole else []
        else:
            found = find_near(rgb, previous.box, models) or models.detect(rgb)
        results.append(found)
        if found:
            previous = found[0]
    return results
