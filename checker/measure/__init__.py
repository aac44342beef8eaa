"""The camera check: how much each eye narrows on a smile and on a pucker, from face landmarks.

Pure Python, like the rule engine. The patient's browser finds the landmarks and sends only
each frame's numbers (:mod:`.eyes` turns landmarks into them, in the same arithmetic as
``checker/static/measure/eyes.mjs``); :mod:`.narrowing` checks what was sent and works out
the figures the patient and the clinic see. The rule engine does not use them.
"""

from __future__ import annotations

from .eyes import Frame, bilinear, frame_of, head_turn, mouth_width, opening
from .narrowing import POSES, SIDES, Measure, MeasureError, PoseSummary, measure_of, summarise

__all__ = [
    "POSES",
    "SIDES",
    "Frame",
    "bilinear",
    "Measure",
    "MeasureError",
    "PoseSummary",
    "frame_of",
    "head_turn",
    "measure_of",
    "mouth_width",
    "opening",
    "summarise",
]
