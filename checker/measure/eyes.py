"""One video frame's numbers from MediaPipe's face mesh landmarks (pixel coordinates) and the
frame's brightness.

The same arithmetic as ``checker/static/measure/eyes.mjs``, which runs in the patient's
browser; ``tests/measure/fixtures.json`` holds both to the same results. "Right" and "left"
are the person's own: in an unmirrored image their right eye is on the image's left.

An eye's opening is its height through the pupil, as clinicians measure the palpebral fissure:
the face mesh says where the eye is, and the picture's brightness where its lids are. A face
model alone reads a narrowed eye as more open than it is (it leans towards the eyes it learned
from), so each lid is placed where the brightness, coming in from the skin beyond it, has fallen
``MARGIN_LEVEL`` of the way to the darkest point inside the eye.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

Point = Sequence[float]
Landmarks = Mapping[int, Point] | Sequence[Point]
Brightness = Callable[[float, float], float]  # the picture's brightness at a point, in pixels

# Each eye: the upper and lower lid points above and below the pupil, and the iris's centre.
EYES: dict[str, tuple[tuple[int, int], int]] = {"right": ((159, 145), 468), "left": ((386, 374), 473)}
OUTER_CORNERS = (33, 263)
MOUTH_CORNERS = (61, 291)
NOSE_TIP = 1
FACE_SIDES = (234, 454)  # the cheeks' outline beside each eye: right, left
USED = sorted(
    {
        *(i for (upper, lower), iris in EYES.values() for i in (upper, lower, iris)),
        *OUTER_CORNERS,
        *MOUTH_CORNERS,
        NOSE_TIP,
        *FACE_SIDES,
    }
)
MARGIN_LEVEL = 0.7  # where a lid is: this share of the way from the eye's darkest point to the skin
REACH = 1.0  # how far beyond each lid landmark to look for the skin, in lid gaps
STEPS = 40  # brightness samples a lid gap


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


def profile(points: Landmarks, eye: str, brightness: Brightness) -> tuple[float, list[float]]:
    """The brightness along the line through ``eye``'s pupil across its lids (perpendicular to the
    line through the outer eye corners), from above the upper lid to below the lower: the step
    between samples in pixels, and the samples. The line's middle is level with the middle of the
    lid landmarks and its length is ``1 + 2 * REACH`` times their gap."""
    (upper, lower), iris = EYES[eye]
    (x1, y1), (x2, y2) = points[OUTER_CORNERS[0]][:2], points[OUTER_CORNERS[1]][:2]
    width = _distance(points, *OUTER_CORNERS)
    across = ((x2 - x1) / width, (y2 - y1) / width)
    down = (-across[1], across[0])
    top, bottom, pupil = points[upper], points[lower], points[iris]
    middle = ((top[0] + bottom[0]) / 2, (top[1] + bottom[1]) / 2)
    along = (pupil[0] - middle[0]) * across[0] + (pupil[1] - middle[1]) * across[1]
    centre = (middle[0] + along * across[0], middle[1] + along * across[1])
    gap = abs((bottom[0] - top[0]) * down[0] + (bottom[1] - top[1]) * down[1])
    step = gap / STEPS
    reach = round(STEPS * (0.5 + REACH))
    samples = [
        brightness(centre[0] + i * step * down[0], centre[1] + i * step * down[1]) for i in range(-reach, reach + 1)
    ]
    return step, samples


def _first(values: Sequence[float], best: Callable[[Sequence[float]], float]) -> int:
    return values.index(best(values))


def lid_gap(step: float, samples: Sequence[float]) -> float:
    """The distance between the lid margins on a :func:`profile`, in pixels (0 when it shows no
    eye: nothing darker between the lids than beyond them)."""
    middle = len(samples) // 2
    half = STEPS // 2
    darkest = middle - half + _first(samples[middle - half : middle + half + 1], min)
    above = _first(samples[:darkest], max)
    below = darkest + _first(samples[darkest:], max)
    if samples[above] <= samples[darkest] or samples[below] <= samples[darkest]:
        return 0.0

    def margin(start: int, way: int) -> float:
        """Coming in from ``start`` (the skin) towards the darkest point, where the brightness
        falls below the margin's level (in samples, between two of them). The darkest point is
        below the level, so the walk stops before it."""
        level = samples[darkest] + MARGIN_LEVEL * (samples[start] - samples[darkest])
        i = start
        while samples[i + way] >= level:
            i += way
        here, there = samples[i], samples[i + way]
        return i + way * (here - level) / (here - there)

    return (margin(below, -1) - margin(above, 1)) * step


def opening(points: Landmarks, eye: str, brightness: Brightness) -> float:
    """How open ``eye`` is: the gap between its lid margins through the pupil over the distance
    between the outer eye corners. That distance scales for the face's distance from the camera;
    the eye's own corners would too, but they move as the eye narrows."""
    step, samples = profile(points, eye, brightness)
    return lid_gap(step, samples) / _distance(points, *OUTER_CORNERS)


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


def frame_of(points: Landmarks, brightness: Brightness) -> Frame:
    """All of one frame's numbers."""
    yaw, roll = head_turn(points)
    return Frame(
        opening(points, "right", brightness), opening(points, "left", brightness), mouth_width(points), yaw, roll
    )


def bilinear(values: Sequence[float], width: int, height: int) -> Brightness:
    """A picture's brightness between its pixels, from ``values`` row by row (each pixel's value
    at its centre; beyond the outermost centres, the nearest edge's). At least 2 x 2 pixels."""

    def at(x: float, y: float) -> float:
        x = min(max(x - 0.5, 0.0), width - 1.0)
        y = min(max(y - 0.5, 0.0), height - 1.0)
        left, top = min(int(x), width - 2), min(int(y), height - 2)
        dx, dy = x - left, y - top
        row, below = top * width + left, (top + 1) * width + left
        upper = values[row] * (1 - dx) + values[row + 1] * dx
        lower = values[below] * (1 - dx) + values[below + 1] * dx
        return upper * (1 - dy) + lower * dy

    return at
