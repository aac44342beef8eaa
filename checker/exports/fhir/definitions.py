"""The definitions (Questionnaires, CodeSystems, ValueSets, the OperationDefinition) as a FHIR
server keeps them: each with an id, ``meta`` and its publisher, found by reading its id or its
canonical address, or by a search that answers a ``searchset`` Bundle."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .common import checked

SDC_QUESTIONNAIRE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
NOT_IN_AN_ID = re.compile(r"[^A-Za-z0-9.-]+")
# What a search of definitions may ask (FHIR's common parameters for canonical resources).
SEARCH_PARAMETERS = ("_id", "url", "version", "status", "name")
# The parameters of the HTTP exchange, not of the search: accepted and left out of the self link.
FORMAT_PARAMETERS = ("_format", "_pretty")


def resource_id(*parts: str) -> str:
    """A FHIR id from names (FHIR ids hold letters, digits, '-' and '.', at most 64):
    ``resource_id("synkinesis-self-check", "2026.2")``, ``resource_id("rf_eye")`` = "rf-eye"."""
    return NOT_IN_AN_ID.sub("-", "-".join(parts)).strip("-")[:64]


def version_id(resource: Mapping[str, Any]) -> str:
    """The resource's version: a digest of its content, so it changes exactly when that does."""
    body = {key: value for key, value in resource.items() if key != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def stamped(
    resource: Mapping[str, Any], id_: str, changed: datetime, publisher: str, profile: str | None = None
) -> dict[str, Any]:
    """``resource`` with its id, ``date`` and ``publisher``, and ``meta`` (versionId, lastUpdated,
    profile); ``changed`` is when what it is made from last changed (timezone-aware)."""
    body = {key: value for key, value in resource.items() if key not in ("id", "meta")}
    body.update(date=changed.isoformat(timespec="seconds"), publisher=publisher)
    found = {"resourceType": body.pop("resourceType"), "id": id_, **body}
    meta: dict[str, Any] = {"versionId": version_id(found), "lastUpdated": changed.isoformat(timespec="milliseconds")}
    if profile:
        meta["profile"] = [profile]
    return checked(found["resourceType"], {**found, "meta": meta})


def _holds(resource: Mapping[str, Any], name: str, wanted: str) -> bool:
    """Whether one search value (``a,b`` is a or b) matches: exact for tokens and URLs,
    'starts with, any case' for a name, as FHIR's string search does."""
    values = [v for v in wanted.split(",") if v]
    if name == "_id":
        return resource.get("id") in values
    if name == "name":
        have = str(resource.get("name", "")).casefold()
        return any(have.startswith(v.casefold()) for v in values)
    if name == "url":  # a canonical may carry its version: url|version
        url, version = resource.get("url"), resource.get("version")
        return any(v == url or v == f"{url}|{version}" for v in values)
    return resource.get(name) in values


def search(
    resources: Iterable[Mapping[str, Any]], query: Sequence[tuple[str, str]]
) -> tuple[list[Mapping[str, Any]], list[tuple[str, str]], list[str]]:
    """The resources matching every parameter of ``query``, the parameters used, and those
    ignored (unknown here, which FHIR says a server should ignore and report)."""
    used = [(name, value) for name, value in query if name in SEARCH_PARAMETERS]
    ignored = sorted({name for name, _value in query if name not in SEARCH_PARAMETERS + FORMAT_PARAMETERS})
    found = [r for r in resources if all(_holds(r, name, value) for name, value in used)]
    return found, used, ignored


def searchset(
    kind: str, found: Sequence[Mapping[str, Any]], base: str, used: Sequence[tuple[str, str]], ignored: Sequence[str]
) -> dict[str, Any]:
    """The search's answer: a ``searchset`` Bundle, its self link naming the parameters used, and
    a warning for each one ignored. The resources found were checked when they were made: the
    Bundle is not checked again whole (a fifth of a second a search), only its own parts."""
    query = urlencode(used)
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"{base}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in found
    ]
    if ignored:
        issues = [
            {"severity": "warning", "code": "not-supported", "diagnostics": f"search parameter {name!r} was ignored"}
            for name in ignored
        ]
        warning = {"resourceType": "OperationOutcome", "issue": issues}
        entries.append({"resource": warning, "search": {"mode": "outcome"}})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": [{"relation": "self", "url": f"{base}/{kind}" + (f"?{query}" if query else "")}],
    }
    shell = [{key: value for key, value in e.items() if key != "resource"} for e in entries]
    checked("Bundle", {**bundle, "entry": shell})
    return {**bundle, "entry": entries} if entries else bundle
