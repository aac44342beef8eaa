"""What a FHIR client asked for: FHIR JSON (the default), the API's plain JSON (only when asked
for by name), or a format this server does not write (406)."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from ..exports.fhir.operations import LEGACY_BUNDLE_FORMAT

FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
# FHIR's JSON by its names: R4's, the older DSTU2 one that clients still send, and _format's short one.
FHIR_JSON_NAMES = (FHIR_JSON, "application/json+fhir")
FORMATS = ("json", PLAIN_JSON, *FHIR_JSON_NAMES)  # _format values answered as FHIR JSON


def prefers_fhir() -> bool:
    """FHIR JSON, unless the client named application/json and ranks it above FHIR JSON (the
    plain JSON `$assess` answered before it spoke FHIR). ``*/*``, no Accept or any ``_format``
    is FHIR."""
    if request.args.get("_format"):
        return True
    accept = request.accept_mimetypes
    named = max((quality for value, quality in accept if value.lower() == PLAIN_JSON), default=0)
    return named <= max(accept.quality(name) for name in FHIR_JSON_NAMES)


def unacceptable() -> str | None:
    """Why the request cannot be answered in a format it accepts (None when it can): a
    ``_format`` other than JSON, or an Accept header that rules out every JSON."""
    asked = request.args.get("_format")
    if asked is not None:
        if asked.lower() in (*FORMATS, LEGACY_BUNDLE_FORMAT):
            return None
        return str(
            _("_format=%(asked)s is not served: this server answers JSON (application/fhir+json) only.", asked=asked)
        )
    accept = request.accept_mimetypes
    if not accept or any(accept.quality(name) for name in (*FHIR_JSON_NAMES, PLAIN_JSON)):
        return None
    return str(_("The Accept header rules out JSON: this server answers application/fhir+json only."))
