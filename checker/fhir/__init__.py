"""FHIR R4 for the self-check: the Questionnaire, a QuestionnaireResponse with the result as
Observations in a Bundle, and answers read back from a QuestionnaireResponse.

Resources are built as plain dictionaries and checked against the `fhir.resources` models
(their R4B package, whose Questionnaire, QuestionnaireResponse, Observation and Bundle
have the R4 structure), so everything this package returns is valid. Pure Python: the web
layer passes in what depends on the request (the language's words).
"""

from .common import ANSWER_SYSTEM, QUESTIONNAIRE_URL, RESULT_SYSTEM, Assessed, group_link
from .exports import questionnaire_response, result_bundle
from .questionnaire import questionnaire
from .reading import answers_from_response

__all__ = [
    "ANSWER_SYSTEM",
    "QUESTIONNAIRE_URL",
    "RESULT_SYSTEM",
    "Assessed",
    "answers_from_response",
    "group_link",
    "questionnaire",
    "questionnaire_response",
    "result_bundle",
]
