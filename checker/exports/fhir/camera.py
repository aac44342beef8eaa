"""The camera check (:mod:`checker.measure`) as Observations: the eyes' opening at rest, then
each eye's narrowing on the smile and on the pucker, with the method and the software that
measured it. Category ``exam``: a measurement, not an answer. Pure Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...measure import Measure
from ...measure.narrowing import MODEL
from .common import Translate, _
from .terminology import OBSERVATIONS

EXAM = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]}
UCUM = "http://unitsofmeasure.org"
METHOD = _(
    "Measured in the patient's browser: each eye's opening is its lid gap through the pupil (the lid "
    "margins found in the picture's brightness along the line the face landmarks give) over the distance "
    "between the outer eye corners, the median over about two seconds of held frames; narrowing is 1 "
    "minus the pose's opening over the opening at rest. Not validated against clinician grading; not "
    "used for staging."
)
SIDES = {"right": _("Right"), "left": _("Left"), "both": _("Both sides")}


def camera_observations(
    measure: Measure,
    observation: Callable[..., dict[str, Any]],
    system: str,
    translate: Translate,
    software: str,
) -> list[dict[str, Any]]:
    """``observation(code, **fields)`` makes an Observation the way the rest of the Bundle's are."""

    def component(code: str, **value: Any) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": system, "code": code, "display": translate(OBSERVATIONS[code])}]},
            **value,
        }

    def ratio(value: float) -> dict[str, Any]:
        return {"valueQuantity": {"value": round(value, 4), "unit": "1", "system": UCUM, "code": "1"}}

    def percent(value: float) -> dict[str, Any]:
        return {"valueQuantity": {"value": round(100 * value, 1), "unit": "%", "system": UCUM, "code": "%"}}

    common = {
        "category": [EXAM],
        "method": {"text": translate(METHOD)},
        "device": {"display": f"{software}; {MODEL}"},
    }
    side = component("affected-side", valueString=translate(SIDES[measure.side]))
    rest = measure.poses["rest"]
    made = [
        observation(
            "eye-opening-rest",
            component=[
                side,
                component("opening-right", **ratio(rest.right)),
                component("opening-left", **ratio(rest.left)),
                component("frames", valueInteger=rest.frames),
            ],
            **common,
        )
    ]
    for pose in ("smile", "pucker"):
        held = measure.poses[pose]
        parts = [
            side,
            component("narrowing-right", **percent(measure.narrowing(pose, "right"))),
            component("narrowing-left", **percent(measure.narrowing(pose, "left"))),
        ]
        if (difference := measure.difference(pose)) is not None:
            parts.append(component("narrowing-difference", **percent(difference)))
        parts += [
            component("opening-right", **ratio(held.right)),
            component("opening-left", **ratio(held.left)),
            component("frames", valueInteger=held.frames),
        ]
        made.append(observation(f"eye-narrowing-{pose}", component=parts, **common))
    return made
