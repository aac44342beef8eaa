"""A case as one FHIR Bundle: every self-check (its QuestionnaireResponse and Observations) and
every clinician's grading (its latest version's QuestionnaireResponse and exam Observations)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from ..db import db, utcnow
from ..exports.fhir.common import checked
from ..exports.reports import fhir_download
from ..rules import current_rules
from .blueprint import bp
from .casework import case_record
from .gradings import grading_bundle_of
from .inbox.views import submission_bundle
from .records import audit


@bp.get("/cases/<int:case_id>.fhir.json")
def case_fhir(case_id: int) -> Response:
    record = case_record(case_id)
    today = current_rules()
    entries: list[dict[str, Any]] = []
    for check in record.submissions:
        entries += submission_bundle(check, check.shown(today))["entry"]
    for grading in record.gradings:
        entries += grading_bundle_of(grading)["entry"]
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": utcnow().isoformat(), "entry": entries}
    audit("exported case FHIR", f"case {record.id}", record)
    db.session.commit()
    return fhir_download(checked("Bundle", bundle), f"case-{record.id}.fhir.json")
