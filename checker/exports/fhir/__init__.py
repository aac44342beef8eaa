"""FHIR R4 for the self-check: terminology, the Questionnaire, exports (a QuestionnaireResponse
with the result as Observations in a Bundle), answers read back, and ``$assess``.

Resources are built as plain dictionaries and checked against the `fhir.resources` models
(their R4B package, whose resources have the R4 structure), so everything this package
returns is valid. Pure Python: the web layer passes in the canonical base and the words.
"""

from .common import Assessed, Canon, group_link
from .exports import Record, questionnaire_response, result_bundle
from .operations import (
    assessment,
    bundle_asked,
    capability_statement,
    operation_definition,
    outcome,
    response_in,
)
from .questionnaire import questionnaire
from .reading import Reading, ResponseErrors, read_response
from .terminology import answer_code_system, answer_value_set, coded_questions, naming_systems, result_code_system

__all__ = [
    "Assessed",
    "Canon",
    "Reading",
    "Record",
    "ResponseErrors",
    "answer_code_system",
    "answer_value_set",
    "assessment",
    "bundle_asked",
    "capability_statement",
    "coded_questions",
    "group_link",
    "naming_systems",
    "operation_definition",
    "outcome",
    "questionnaire",
    "questionnaire_response",
    "read_response",
    "response_in",
    "result_bundle",
    "result_code_system",
]
