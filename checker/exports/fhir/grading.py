"""Clinicians' gradings in FHIR R4: a Questionnaire for each scale (SDC, its scores as
``calculatedExpression``), a grading as a QuestionnaireResponse, and its scores as
Observations (category ``exam``) in a Bundle. Pure Python, like the rest of this package."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ...grading import Item, Scale
from .common import Canon, Translate, checked, drop_none, same, translated
from .questionnaire import CALCULATED_EXPRESSION, ORDINAL_VALUE, _extension, _item_control

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
SLIDER_STEP = "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue"
EXAM = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]}
_ = same  # marks the fixed English below for the translation catalogue; ``translate`` turns it
SIDES = {"left": (_("Left"), _("Left side of the face")), "right": (_("Right"), _("Right side of the face"))}


def questionnaire_url(canon: Canon, scale: Scale) -> str:
    return f"{canon.base}/Questionnaire/grading-{scale.id}"


def codes_url(canon: Canon, scale: Scale) -> str:
    """The code system of the scale's choices (and of its scores, as ``score-<id>``)."""
    return canon.code_system(f"grading-{scale.id}")


def _answers(item_id: str) -> str:
    return f"%resource.repeat(item).where(linkId = '{item_id}').answer.value"


def _points(item: Item) -> str:
    """FHIRPath for the points of an item's answer: its choice's points, or a number's score."""
    value = _answers(item.id)
    if item.choices:
        expression = "{}"
        for choice in reversed(item.choices):
            expression = f"iif({value}.code = '{choice.code}', {choice.points}, {expression})"
        return expression
    return f"(100 - (100 - {value}).abs())" if item.two_sided else value


def _all_answered(items: tuple[Item, ...]) -> str:
    return " and ".join(f"{_answers(item.id)}.exists()" for item in items)


def score_expressions(scale: Scale) -> dict[str, str]:
    """FHIRPath for each of the scale's scores, as :mod:`checker.grading` computes them, given
    only when every item it needs is answered."""
    sections = {section.id: section.items for section in scale.sections}

    def total(section: str, factor: int = 1) -> str:
        points = " + ".join(_points(item) for item in sections[section])
        return f"({factor} * ({points}))" if factor != 1 else f"({points})"

    def when(items: tuple[Item, ...], value: str) -> str:
        return f"iif({_all_answered(items)}, {value}, {{}})"

    if scale.id == "sunnybrook":
        resting, voluntary, synkinesis = total("resting", 5), total("voluntary", 4), total("synkinesis")
        difference = f"({voluntary} - {resting} - {synkinesis})"
        return {
            "composite": when(scale.items, f"iif({difference} < 0, 0, {difference})"),
            "voluntary": when(sections["voluntary"], voluntary),
            "resting": when(sections["resting"], resting),
            "synkinesis": when(sections["synkinesis"], synkinesis),
        }
    if scale.id == "eface":
        return {name: when(items, f"({total(name)} / {len(items)}).round(1)") for name, items in sections.items()}
    return {"grade": when(scale.items, _points(scale.items[0]))}


def _choice_item(scale: Scale, canon: Canon, item: Item, translations: Mapping[str, Translate]) -> dict[str, Any]:
    options: list[dict[str, Any]] = []
    for choice in item.choices:
        coding: dict[str, Any] = {"system": codes_url(canon, scale), "code": choice.code}
        coding.update(translated("display", choice.label, translations))
        options.append({"valueCoding": coding, "extension": [_extension(ORDINAL_VALUE, valueDecimal=choice.points)]})
    return {
        "linkId": item.id,
        **translated("text", item.label, translations),
        "type": "choice",
        "required": True,
        "answerOption": options,
        "extension": [_item_control("radio-button")],
    }


def _number_item(item: Item, translations: Mapping[str, Translate]) -> dict[str, Any]:
    extensions = [
        _item_control("slider"),
        _extension(SLIDER_STEP, valueInteger=1),
        _extension(MIN_VALUE, valueInteger=item.low),
        _extension(MAX_VALUE, valueInteger=item.high),
    ]
    hint = {"linkId": f"{item.id}.hint", "type": "display", **translated("text", item.hint, translations)}
    return {
        "linkId": item.id,
        **translated("text", item.label, translations),
        "type": "integer",
        "required": True,
        "extension": extensions,
        "item": [hint],
    }


def grading_questionnaire(
    scale: Scale, canon: Canon, translations: Mapping[str, Translate] | None = None
) -> dict[str, Any]:
    """The scale as an SDC Questionnaire: the side, the visit, a group per section, and the
    scores, read-only and computed in the form."""
    translations = translations or {}
    side_system = canon.code_system("grading-side")
    side = {
        "linkId": "side",
        **translated("text", _("Affected side"), translations),
        "type": "choice",
        "required": True,
        "answerOption": [
            {"valueCoding": {"system": side_system, "code": code, **translated("display", name, translations)}}
            for code, (name, _whole) in SIDES.items()
        ],
    }
    visit = {"linkId": "visit_on", **translated("text", _("Date of the visit"), translations), "type": "date"}
    groups = [
        {
            "linkId": f"section.{section.id}",
            **translated("text", section.title, translations),
            "type": "group",
            "item": [
                _choice_item(scale, canon, item, translations) if item.choices else _number_item(item, translations)
                for item in section.items
            ],
        }
        for section in scale.sections
    ]
    expressions = score_expressions(scale)
    scores = {
        "linkId": "scores",
        **translated("text", _("Scores"), translations),
        "type": "group",
        "item": [
            {
                "linkId": f"score.{score.id}",
                **translated("text", score.label, translations),
                "type": "decimal",
                "readOnly": True,
                "extension": [
                    _extension(
                        CALCULATED_EXPRESSION,
                        valueExpression={"language": "text/fhirpath", "expression": expressions[score.id]},
                    )
                ],
            }
            for score in scale.scores
        ],
    }
    resource = {
        "resourceType": "Questionnaire",
        "url": questionnaire_url(canon, scale),
        "version": "1",
        "name": "Grading" + "".join(part.capitalize() for part in scale.id.split("-")),
        **translated("title", scale.name, translations),
        "status": "active",
        "language": "en",
        "subjectType": ["Patient"],
        "description": scale.source,
        "item": [side, visit, *groups, scores],
    }
    return checked("Questionnaire", resource)


def _stable_id(canon: Canon, *parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join([canon.base, "grading", *map(str, parts)])))


def grading_bundle(
    scale: Scale,
    canon: Canon,
    *,
    grading_id: int,
    version: int,
    side: str,
    visit_on: date,
    saved_at: datetime,
    values: Mapping[str, Any],
    scores: Mapping[str, Any],
    rater: str | None,
    patient: str | None,
    translate: Translate,
) -> dict[str, Any]:
    """A grading's version as a QuestionnaireResponse and its scores as Observations, in a Bundle.
    Ids stay the same on every export of the same version."""
    subject = {"identifier": {"system": canon.patients, "value": patient}} if patient else None
    performer = [{"display": rater}] if rater else None
    response_id = _stable_id(canon, grading_id, version, "response")
    response_url = f"urn:uuid:{response_id}"

    def answer(item: Item) -> dict[str, Any]:
        value = values[item.id]
        if item.choices:
            label = translate(item.choice(str(value)).label)
            return {"valueCoding": {"system": codes_url(canon, scale), "code": str(value), "display": label}}
        return {"valueInteger": int(value)}

    side_name, side_whole = SIDES[side]
    side_code = {"system": canon.code_system("grading-side"), "code": side, "display": translate(side_name)}
    items: list[dict[str, Any]] = [
        {"linkId": "side", "answer": [{"valueCoding": side_code}]},
        {"linkId": "visit_on", "answer": [{"valueDate": visit_on.isoformat()}]},
    ]
    for section in scale.sections:
        children = [{"linkId": item.id, "answer": [answer(item)]} for item in section.items]
        items.append({"linkId": f"section.{section.id}", "item": children})
    items.append(
        {
            "linkId": "scores",
            "item": [
                {"linkId": f"score.{score.id}", "answer": [{"valueDecimal": scores[score.id]}]}
                for score in scale.scores
                if score.id in scores
            ],
        }
    )
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": response_id,
        "identifier": {"system": f"{canon.base}/NamingSystem/grading", "value": f"{grading_id}-{version}"},
        "questionnaire": questionnaire_url(canon, scale),
        "status": "completed",
        "subject": subject,
        "authored": saved_at.isoformat(),
        "author": {"display": rater} if rater else None,
        "item": items,
    }
    observations = [
        drop_none(
            {
                "resourceType": "Observation",
                "id": _stable_id(canon, grading_id, version, score.id),
                "status": "amended" if version > 1 else "final",
                "category": [EXAM],
                "code": {
                    "coding": [
                        {
                            "system": codes_url(canon, scale),
                            "code": f"score-{score.id}",
                            "display": f"{translate(scale.name)}: {translate(score.label)}",
                        }
                    ]
                },
                "subject": subject,
                "effectiveDateTime": visit_on.isoformat(),
                "performer": performer,
                "valueQuantity": {
                    "value": scores[score.id],
                    "unit": "score",
                    "system": "http://unitsofmeasure.org",
                    "code": "{score}",
                },
                "bodySite": {"text": translate(side_whole)},
                "derivedFrom": [{"reference": response_url}],
            }
        )
        for score in scale.scores
        if score.id in scores
    ]
    entries = [{"fullUrl": response_url, "resource": drop_none(response)}]
    entries += [{"fullUrl": f"urn:uuid:{o['id']}", "resource": o} for o in observations]
    bundle = {
        "resourceType": "Bundle",
        "id": _stable_id(canon, grading_id, version, "bundle"),
        "type": "collection",
        "timestamp": saved_at.isoformat(),
        "entry": entries,
    }
    return checked("Bundle", bundle)
