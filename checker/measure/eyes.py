"""One video frame's numbers from MediaPipe's face mesh landmarks (pixel coordinates).

The same arithmetic as ``checker/static/measure/eyes.mjs``, which runs in the patient's
browser; ``tests/measure/fixtures.json`` holds both to the same results. "Right" and "left"
are the person's own: in an unmirrored image their right eye is on the image's left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

Point = Sequence[float]
Landmarks = Mapping[int, Point] | Sequence[Point]

# Each eye: its two corners, then upper and lower lid points facing each other.
EYES: dict[str, tuple[tuple[int, int], tuple[tuple[int, int], ...]]] = {
    "right": ((33, 133), ((160, 144), (159, 145), (158, 153))),
    "left": ((362, 263), ((385, 380), (386, 374), (387, 373))),
}
OUTER_CORNERS = (33, 263)
MOUTH_CORNERS = (61, 291)
NOSE_TIP = 1
FACE_SIDES = (234, 454)  # the cheeks' outline beside each eye: right, left
USED = sorted(
    {
        *(i for corners, lids in EYES.values() for i in (*corners, *(j for pair in lids for j in pair))),
        *OUTER_CORNERS,
        *MOUTH_CORNERS,
        NOSE_TIP,
        *FACE_SIDES,
    }
)


class Frame(NamedTuple):
    """What one frame says: each eye's opening (see :func:`opening`), the mouth's width
    (over the distance between the outer eye corners), and the head's turn and tilt in degrees."""

    right: float
    left: float
    mouth: float
    yaw: float
    roll: float


def _distance(points: Landmarks, a: int, b: int) -> float:
    return math.dist(points[a], points[b])


def opening(points: Landmarks, eye: str) -> float:
    """How open ``eye`` is: the mean gap between facing lid points over the distance between the
    outer eye corners. That distance scales for the face's distance from the camera; the eye's
    own corners would too, but the model places them less surely as the eye narrows."""
    _, lids = EYES[eye]
    gap = sum(_distance(points, upper, lower) for upper, lower in lids) / len(lids)
    return gap / _distance(points, *OUTER_CORNERS)


def mouth_width(points: Landmarks) -> float:
    """The mouth's corner-to-corner width over the distance between the outer eye corners."""
    return _distance(points, *MOUTH_CORNERS) / _distance(points, *OUTER_CORNERS)


def head_turn(points: Landmarks) -> tuple[float, float]:
    """Approximate yaw (turned to one side) and roll (tilted) in degrees; 0, 0 faces the camera.

    Yaw from how far the nose tip sits from the middle of the cheeks' outline; roll from the
    line through the outer eye corners."""
    to_right = _distance(points, NOSE_TIP, FACE_SIDES[0])
    to_left = _distance(points, NOSE_TIP, FACE_SIDES[1])
    share = (to_right - to_left) / (to_right + to_left)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, share))))
    (x1, y1), (x2, y2) = points[OUTER_CORNERS[0]][:2], points[OUTER_CORNERS[1]][:2]
    roll = math.degrees(math.atan2(y2 - y1, x2 - x1))
    return yaw, roll


def frame_of(points: Landmarks) -> Frame:
    """All of one frame's numbers."""
    yaw, roll = head_turn(points)
    return Frame(opening(points, "right"), opening(points, "left"), mouth_width(points), yaw, roll)
