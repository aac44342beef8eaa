"""A sent check filed into the EHR it was launched from: its QuestionnaireResponse and result
Observations in one FHIR ``transaction``, each a conditional create on its identifier, so a
retry after a lost answer never files a second copy. Done by the outbox worker, with the
launch's token, which never leaves the server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select, update

from ..db import db, utcnow
from ..exports.fhir import Record, result_bundle
from ..mail import SENDING_LEASE, retry_pause
from ..models import Case, EhrLaunch, EhrWriteBack, Submission
from ..rules import current_rules
from ..urls import fhir_canon
from ..web.i18n import reason_text, translate

TIMEOUT = 30  # seconds for the EHR to answer a transaction
LARGEST_ANSWER = 1024 * 1024  # a transaction-response larger than this is not read
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)  # the EHR may recover: try again later


class GiveUp(Exception):
    """The EHR will not take this record, whatever happens next: stop, and say why. ``kind`` (one
    of GIVE_UP_KINDS) is what the case page says, in the staff member's language."""

    def __init__(self, kind: str, detail: str) -> None:
        if kind not in GIVE_UP_KINDS:
            raise ValueError(f"not a kind the case page can say: {kind!r}")
        super().__init__(f"{kind}: {detail}")


GIVE_UP_KINDS = ("permission-gone", "permission-expired", "permission-refused", "record-refused")


class TryLater(Exception):
    """The EHR could not take it now: try again after a pause."""


def queue_write_back(submission: Submission, launch: EhrLaunch) -> None:
    """File ``submission`` into ``launch``'s EHR, soon (in the caller's transaction)."""
    db.session.add(EhrWriteBack(submission=submission, launch=launch, next_attempt_at=utcnow()))


def launch_of(submission: Submission) -> EhrLaunch | None:
    """The EHR launch a check was answered on, if it was."""
    if submission.invitation_id is None:
        return None
    return db.session.scalar(select(EhrLaunch).where(EhrLaunch.invitation_id == submission.invitation_id))


def filings_of(case: Case) -> dict[int, EhrWriteBack]:
    """The write-backs of a case's checks, by check id (for the case page)."""
    ids = [check.id for check in case.submissions]
    if not ids:
        return {}
    found = db.session.scalars(select(EhrWriteBack).where(EhrWriteBack.submission_id.in_(ids)))
    return {item.submission_id: item for item in found}


def transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """An export Bundle as a FHIR transaction: each resource created by the EHR (its id is the
    EHR's to give), unless one with the same identifier is already there."""
    entries = []
    for entry in bundle["entry"]:
        resource = {key: value for key, value in entry["resource"].items() if key != "id"}
        identifier = resource["identifier"]
        first = identifier[0] if isinstance(identifier, list) else identifier
        request = {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={first['system']}|{first['value']}",
        }
        entries.append({"fullUrl": entry["fullUrl"], "resource": resource, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def filing_bundle(submission: Submission, launch: EhrLaunch) -> dict[str, Any]:
    """What is filed: the check as it was shown, worded in the clinic's language, its subject and
    encounter as references on the EHR itself."""
    record = Record(
        str(submission.id),
        patient_on_ehr=f"Patient/{launch.patient}",
        encounter_on_ehr=f"Encounter/{launch.encounter}" if launch.encounter else None,
    )
    language = str(current_app.config["CLINIC_LANGUAGE"])
    with force_locale(language):
        bundle = result_bundle(
            submission.shown(current_rules()),
            submission.submitted_at,
            fhir_canon(),
            translate,
            reason_text,
            record,
            language=language,
            measure=submission.measure,
        )
    return transaction(bundle)


def file_due(now: datetime | None = None, limit: int = 20) -> tuple[int, int]:
    """File the checks that are due; (filed, failed). Each is claimed with a lease first (as the
    outbox's emails are), so two workers never file one at once."""
    now = now or utcnow()
    filed = failed = 0
    for _ in range(limit):
        due = (EhrWriteBack.filed_at.is_(None), EhrWriteBack.given_up_at.is_(None), EhrWriteBack.next_attempt_at <= now)
        candidate = select(EhrWriteBack.id).where(*due).order_by(EhrWriteBack.next_attempt_at, EhrWriteBack.id)
        item_id = db.session.scalar(candidate.limit(1).with_for_update(skip_locked=True))
        if item_id is None:
            break
        lease = update(EhrWriteBack).where(EhrWriteBack.id == item_id, *due)
        claimed = db.session.execute(lease.values(next_attempt_at=max(now, utcnow()) + SENDING_LEASE)).rowcount  # type: ignore[attr-defined]
        db.session.commit()
        item = db.session.get(EhrWriteBack, item_id) if claimed == 1 else None
        if item is None:
            continue
        item.attempts += 1
        try:
            item.filed = _file(item)
        except GiveUp as why:
            item.given_up_at, item.last_error = utcnow(), str(why)[:200]
            failed += 1
            current_app.logger.warning("write-back %s given up: %s", item.id, item.last_error)
        except TryLater as why:
            item.next_attempt_at = max(now, utcnow()) + retry_pause(item.attempts)
            item.last_error = str(why)[:200]
            failed += 1
            current_app.logger.warning("write-back %s will be tried again: %s", item.id, item.last_error)
            db.session.commit()
            break  # the EHR is failing: the rest wait for the next round
        else:
            item.filed_at, item.last_error = utcnow(), ""
            filed += 1
            current_app.logger.info("write-back %s filed: %d resources", item.id, len(item.filed))
        if item.launch is not None and (item.filed_at or item.given_up_at):
            item.launch.access_token = item.launch.refresh_token = None  # done with: not kept
        db.session.commit()
    return filed, failed


def _file(item: EhrWriteBack) -> list[str]:
    """Post the transaction; what the EHR says it holds ("Type/id" each)."""
    import requests

    launch = item.launch
    if launch is None or not launch.access_token or not launch.patient:
        raise GiveUp("permission-gone", "the launch holds no token")
    if launch.token_expires_at is not None and launch.token_expires_at <= utcnow():
        raise GiveUp("permission-expired", "the access token expired before the check was filed")
    body = json.dumps(filing_bundle(item.submission, launch), ensure_ascii=False)
    headers = {
        "Authorization": f"Bearer {launch.access_token}",
        "Content-Type": "application/fhir+json",
        "Accept": "application/fhir+json",
    }
    try:
        answer = requests.post(launch.iss, data=body.encode(), headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise TryLater(f"the EHR could not be reached: {type(exc).__name__}") from None
    if len(answer.content) > LARGEST_ANSWER:
        raise TryLater(f"the EHR's answer was over {LARGEST_ANSWER} bytes")
    if answer.status_code in RETRY_STATUSES:
        raise TryLater(f"the EHR answered HTTP {answer.status_code}")
    if answer.status_code in (401, 403):
        raise GiveUp("permission-refused", f"HTTP {answer.status_code}{_diagnostics(answer.json)}")
    if answer.status_code != 200:
        raise GiveUp("record-refused", f"HTTP {answer.status_code}{_diagnostics(answer.json)}")
    return _held(answer.json)


def _diagnostics(read: Callable[[], Any]) -> str:
    """The first issue an EHR's OperationOutcome gives, for the case page (no content of ours)."""
    try:
        issue = read()["issue"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    return f": {str(issue.get('diagnostics') or issue.get('code', ''))[:120]}"


def _held(read: Callable[[], Any]) -> list[str]:
    """Where the EHR says each resource is, from its transaction-response Bundle."""
    try:
        response = read()
        places = [str(entry["response"]["location"]) for entry in response["entry"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise TryLater(f"the EHR's answer was not a transaction-response: {type(exc).__name__}") from None
    return [place.split("/_history/")[0][-120:] for place in places]
