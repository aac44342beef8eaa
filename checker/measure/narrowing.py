"""From the frames the browser sends to the figures kept: each eye's narrowing on a smile and a pucker.

Narrowing per eye and pose is ``1 - opening(pose) / opening(rest)``, each opening the median
over the frames held (their spread is the median absolute deviation). Eyes narrow on a smile
in people without synkinesis too, so what says most is the difference between the sides:
the weak side's narrowing minus the other's. The same arithmetic as
``checker/static/measure/narrowing.mjs``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .eyes import Frame

POSES = ("rest", "smile", "pucker")
SIDES = ("right", "left", "both")  # the side of the weakness, as the patient gives it
MIN_FRAMES = 5
MAX_FRAMES = 90  # three seconds at 30 frames a second; the browser sends at most this
REJECTED = ("no_face", "turned", "moving", "far")  # why frames were left out, counted by the browser
# What a frame may hold: eye openings and the mouth's width are ratios; turns are degrees.
LIMITS = {"right": (0.0, 1.5), "left": (0.0, 1.5), "mouth": (0.05, 3.0), "yaw": (-90.0, 90.0), "roll": (-180.0, 180.0)}
MODEL = "MediaPipe Face Mesh 0.4.1633559619, refined landmarks"  # what the browser runs (package.json)


class MeasureError(ValueError):
    """What the browser sent cannot be a measurement; the message says why."""


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def spread(values: Sequence[float]) -> float:
    """The median absolute deviation from the median."""
    centre = median(values)
    return median([abs(value - centre) for value in values])


class PoseSummary(NamedTuple):
    """One pose's held frames, summed up: each eye's median opening and spread, the mouth's median
    width, the largest turn and tilt, and how many frames."""

    right: float
    left: float
    right_spread: float
    left_spread: float
    mouth: float
    yaw: float
    roll: float
    frames: int


def summarise(frames: Sequence[Frame]) -> PoseSummary:
    rights = [frame.right for frame in frames]
    lefts = [frame.left for frame in frames]
    return PoseSummary(
        right=median(rights),
        left=median(lefts),
        right_spread=spread(rights),
        left_spread=spread(lefts),
        mouth=median([frame.mouth for frame in frames]),
        yaw=max(abs(frame.yaw) for frame in frames),
        roll=max(abs(frame.roll) for frame in frames),
        frames=len(frames),
    )


def narrowing(rest: float, pose: float) -> float:
    """How much an eye closed from rest: 0.25 is a quarter; negative means it opened wider."""
    return 1 - pose / rest


class Measure(NamedTuple):
    """A camera check as kept: the side of weakness, each pose's summary, and the frames left out."""

    side: str
    poses: dict[str, PoseSummary]
    rejected: dict[str, int]

    def narrowing(self, pose: str, eye: str) -> float:
        return narrowing(getattr(self.poses["rest"], eye), getattr(self.poses[pose], eye))

    def weak_eye(self) -> str | None:
        return self.side if self.side in ("right", "left") else None

    def other_eye(self) -> str | None:
        weak = self.weak_eye()
        return None if weak is None else "left" if weak == "right" else "right"

    def difference(self, pose: str) -> float | None:
        """The weak eye's narrowing minus the other's (None when both sides are weak)."""
        weak, other = self.weak_eye(), self.other_eye()
        if weak is None or other is None:
            return None
        return self.narrowing(pose, weak) - self.narrowing(pose, other)

    def to_json(self) -> dict[str, Any]:
        """Compact and rounded: it may travel in the session cookie."""
        return {
            "side": self.side,
            "poses": {pose: [round(value, 4) for value in summary] for pose, summary in self.poses.items()},
            "rejected": self.rejected,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measure:
        poses = {pose: PoseSummary._make([*values[:7], int(values[7])]) for pose, values in data["poses"].items()}
        return cls(side=data["side"], poses=poses, rejected=dict(data.get("rejected") or {}))


def _frames(pose: str, raw: Any) -> list[Frame]:
    if not isinstance(raw, list) or not MIN_FRAMES <= len(raw) <= MAX_FRAMES:
        raise MeasureError(f"{pose}: between {MIN_FRAMES} and {MAX_FRAMES} frames are needed")
    frames = []
    for number, values in enumerate(raw):
        if not isinstance(values, list) or len(values) != len(Frame._fields):
            raise MeasureError(f"{pose}[{number}]: a frame is {len(Frame._fields)} numbers")
        for field, value in zip(Frame._fields, values, strict=True):
            low, high = LIMITS[field]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise MeasureError(f"{pose}[{number}].{field}: not a number")
            if not low <= value <= high:  # an eye may close completely on a smile: 0 is an opening
                raise MeasureError(f"{pose}[{number}].{field}: {value} is outside {low} to {high}")
        frames.append(Frame(*(float(value) for value in values)))
    return frames


def measure_of(data: Any) -> Measure:
    """Check what the browser sent (``side``, ``poses`` of frames, ``rejected`` counts) and sum it up.

    Raises :class:`MeasureError` naming the first fault."""
    if not isinstance(data, Mapping):
        raise MeasureError("a JSON object is needed")
    side = data.get("side")
    if side not in SIDES:
        raise MeasureError(f"side: one of {', '.join(SIDES)}")
    poses = data.get("poses")
    if not isinstance(poses, Mapping) or set(poses) != set(POSES):
        raise MeasureError(f"poses: exactly {', '.join(POSES)}")
    rejected = data.get("rejected") or {}
    if not isinstance(rejected, Mapping) or not set(rejected) <= set(REJECTED):
        raise MeasureError(f"rejected: counts of {', '.join(REJECTED)}")
    counts = {}
    for reason, count in rejected.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
            raise MeasureError(f"rejected.{reason}: a count")
        counts[reason] = count
    summaries = {pose: summarise(_frames(pose, poses[pose])) for pose in POSES}
    if min(summaries["rest"].right, summaries["rest"].left) < 0.05:
        raise MeasureError("rest: an eye looks closed at rest, so narrowing cannot be measured")
    return Measure(side=side, poses=summaries, rejected=counts)
