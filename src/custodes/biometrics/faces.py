"""Value objects of the face engine: boxes, 5-point landmarks, head pose, detected faces.

Plain dataclasses with no model imports, so callers (check-ins, liveness) can use them cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> Point:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    def as_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}


@dataclass(frozen=True)
class Landmarks:
    """dlib's 5 points: 0-1 outer/inner corner of the eye on the image's right, 2-3 outer/inner
    corner of the eye on the image's left, 4 the base of the nose."""

    points: tuple[Point, Point, Point, Point, Point]

    @property
    def eye_left(self) -> Point:
        """Centre of the eye on the image's left (the subject's right eye, unmirrored camera)."""
        (x2, y2), (x3, y3) = self.points[2], self.points[3]
        return ((x2 + x3) / 2, (y2 + y3) / 2)

    @property
    def eye_right(self) -> Point:
        (x0, y0), (x1, y1) = self.points[0], self.points[1]
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def nose(self) -> Point:
        return self.points[4]

    @property
    def inter_eye_distance(self) -> float:
        (ax, ay), (bx, by) = self.eye_left, self.eye_right
        return math.hypot(bx - ax, by - ay)

    def pose(self) -> HeadPose:
        return HeadPose.from_landmarks(self)


@dataclass(frozen=True)
class HeadPose:
    """Head pose proxies from 5 landmarks (not angles from a 3-D model).

    yaw: horizontal offset of the nose from the eye midpoint, in inter-eye distances, measured
         along the eye line; positive = nose towards the image's right, i.e. the subject turning
         to their own left in an unmirrored camera. About 0 when frontal; |yaw| ~0.3 is ~25 deg.
    pitch: distance of the nose below the eye line, in inter-eye distances (about 0.6-0.9 when
         level; smaller when the head tips back, larger when it tips down).
    roll: angle of the eye line in degrees, positive = clockwise in the image.
    """

    yaw: float
    pitch: float
    roll: float

    @classmethod
    def from_landmarks(cls, lm: Landmarks) -> HeadPose:
        (ax, ay), (bx, by) = lm.eye_left, lm.eye_right
        dist = math.hypot(bx - ax, by - ay) or 1.0
        ux, uy = (bx - ax) / dist, (by - ay) / dist  # unit vector along the eye line
        mx, my = (ax + bx) / 2, (ay + by) / 2
        nx, ny = lm.nose[0] - mx, lm.nose[1] - my
        along = nx * ux + ny * uy
        across = -nx * uy + ny * ux
        return cls(yaw=along / dist, pitch=across / dist, roll=math.degrees(math.atan2(by - ay, bx - ax)))

    def as_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 4), "pitch": round(self.pitch, 4), "roll": round(self.roll, 2)}


@dataclass(frozen=True)
class DetectedFace:
    box: FaceBox
    landmarks: Landmarks
    detector_score: float = 0.0
    # YuNet's 5 points (eyes, nose tip, mouth corners) when known: SFace is aligned by them.
    points5: tuple[Point, ...] | None = None

    @property
    def pose(self) -> HeadPose:
        return self.landmarks.pose()
