"""Cases: one person as the clinic sees them, and the summary the inbox sorts by.

Everything that changes a case's parts (a link opened or revoked, a check sent, a request,
a review, a deletion) calls :func:`refresh` in the same transaction, so the summary
columns never disagree with what they summarise.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .db import db, utcnow
from .engine import RuleSet
from .grading import SCALES
from .models import (
    Case,
    CaseEvent,
    CaseNote,
    ConsultationRequest,
    FollowUpSchedule,
    Grading,
    Invitation,
    Submission,
)
from .rules import current_rules
from .trend import Event, Trend, trend

NO_TRIAGE = 99  # the priority of a case with nothing to rank it by: after every triage level


def reference_key(reference: str) -> str | None:
    """A clinic reference as compared: "MRN 100231" and "mrn100231" are one person."""
    return "".join(reference.split()).casefold() or None


def case_with_reference(reference: str) -> Case | None:
    """The open (not merged) case that has this reference, if any."""
    key = reference_key(reference)
    return db.session.scalar(select(Case).where(Case.reference_key == key)) if key else None


def new_case(reference: str = "") -> Case:
    """A case added to the current transaction (the caller commits)."""
    case = Case(reference=reference.strip(), reference_key=reference_key(reference), since=utcnow())
    db.session.add(case)
    return case


def case_for(reference: str) -> tuple[Case, bool]:
    """The open case with this reference, or a new one (in the caller's transaction); whether it
    was already there. Two staff making a link for the same new reference at the same moment
    get one case: the database refuses the second, which then finds the first."""
    if (found := case_with_reference(reference)) is not None:
        return found, True
    try:
        with db.session.begin_nested():
            case = new_case(reference)
            db.session.flush()
        return case, False
    except IntegrityError:
        found = case_with_reference(reference)
        if found is None:
            raise
        return found, True


def set_reference(case: Case, reference: str) -> Case | None:
    """Give the case this reference (or none); the other open case that already has it, if one
    does (then nothing changes)."""
    other = case_with_reference(reference)
    if other is not None and other.id != case.id:
        return other
    try:
        with db.session.begin_nested():
            case.reference, case.reference_key = reference.strip(), reference_key(reference)
            db.session.flush()
    except IntegrityError:  # another case took it a moment ago
        other = case_with_reference(reference)
        if other is None:
            raise
        return other
    refresh(case, current_rules())
    return None


def merge(source: Case, target: Case) -> None:
    """Move everything of ``source`` (links, checks, requests, notes, events, schedules, gradings, and its
    email address when ``target`` has none) to ``target``, in
    the caller's transaction; ``source`` stays as a record that points to ``target``, so its
    address still leads there and every link keeps working."""
    # Both locked, always in the same order, then read again: a merge at the same moment went first.
    db.session.execute(select(Case.id).where(Case.id.in_((source.id, target.id))).order_by(Case.id).with_for_update())
    db.session.refresh(source)
    db.session.refresh(target)
    if source.id == target.id or source.merged_into_id is not None or target.merged_into_id is not None:
        raise ValueError("a case can be merged only into another open case")
    for part in (Invitation, Submission, ConsultationRequest, CaseNote, CaseEvent, FollowUpSchedule, Grading):
        db.session.execute(
            update(part)
            .where(part.case_id == source.id)
            .values(case_id=target.id)
            .execution_options(synchronize_session=False)
        )
    now = utcnow()
    source.merged_into_id, source.merged_at, source.state = target.id, now, "merged"
    source.reference_key = None
    db.session.flush()
    if not target.reference and source.reference:
        target.reference, target.reference_key = source.reference, reference_key(source.reference)
    target.assigned_to_id = target.assigned_to_id or source.assigned_to_id
    if not target.email and source.email:
        target.email, target.language = source.email, source.language
    source.email = None
    db.session.flush()
    db.session.expire_all()  # the parts' collections were moved behind the session's back
    refresh(target, current_rules(), now)


def is_urgent(rules: RuleSet, triage: str) -> bool:
    """Whether a triage level asks for care today or sooner (the clinic is told at once)."""
    if triage not in rules.severity:
        return False
    level = rules.triage_level(triage)
    return level.stops or level.interrupts


def _priority(rules: RuleSet, triage: str | None) -> int:
    return rules.severity.get(triage, NO_TRIAGE) if triage else NO_TRIAGE


def refresh(case: Case, rules: RuleSet, now: datetime | None = None) -> None:
    """Recompute the case's summary columns from its parts."""
    now = now or utcnow()
    db.session.flush()
    # One summary at a time per case: a second transaction waits here, then reads what the
    # first one committed (PostgreSQL; SQLite has one writer at a time anyway).
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update(key_share=True))
    submissions = list(db.session.scalars(select(Submission).where(Submission.case_id == case.id)))
    requests = list(db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.case_id == case.id)))
    links = list(db.session.scalars(select(Invitation).where(Invitation.case_id == case.id).order_by(Invitation.id)))
    live = [link for link in links if link.revoked_at is None]
    # What a person on a link was told before sending anything: a stop, or advice for today.
    alerts = [(link.stopped_at, stop_triage(rules), link.stop_reviewed_at) for link in live if link.stopped_at]
    alerts += [
        (link.flagged_at, link.flags_triage, link.flags_reviewed_at)
        for link in live
        if link.flagged_at and link.flags_triage and link.used_at is None  # once sent, the check says it
    ]
    # (when, triage or None) for each thing still waiting for a staff member
    waiting: list[tuple[datetime, str | None]] = [(s.submitted_at, s.triage) for s in submissions if s.status == "new"]
    waiting += [(r.created_at, None) for r in requests if r.status == "new"]
    waiting += [(when, triage) for when, triage, seen in alerts if seen is None]
    newest = max(submissions, key=lambda s: s.submitted_at, default=None)
    activity = [case.created_at]
    activity += [s.submitted_at for s in submissions] + [r.created_at for r in requests]
    activity += [t for link in links for t in (link.created_at, link.stopped_at, link.flagged_at) if t is not None]
    # The urgency of the newest thing the person was told: a check, a stop or advice for today.
    told = [(s.submitted_at, s.triage) for s in submissions] + [(when, triage) for when, triage, _ in alerts]
    latest_triage = max(told, key=lambda item: item[0])[1] if told else None
    if waiting:  # the most severe of what waits (a request alone has none: the latest check's)
        case.state = "waiting"
        case.since = min(when for when, _ in waiting)
        case.triage = min((t for _, t in waiting if t), key=lambda t: _priority(rules, t), default=latest_triage)
    else:
        case.state = "reviewed" if submissions or requests or alerts else "open"
        case.since = max(activity)
        case.triage = latest_triage
    case.priority = _priority(rules, case.triage)
    case.has_request = bool(requests)
    asked = max(requests, key=lambda r: r.created_at, default=None)
    # The name kept apart (Unicode isolates): right-to-left text or a direction control in it
    # cannot reorder the reference after it.
    case.requester = f"\u2068{asked.name[:120]}\u2069 ({asked.reference})" if asked is not None else ""
    latest_link = links[-1] if links else None
    case.label = latest_link.label if latest_link is not None else ""
    case.link_state = latest_link.status(now) if latest_link is not None else None
    case.link_expires_at = latest_link.expires_at if latest_link is not None else None
    case.outcome = newest.outcome if newest is not None else None
    case.saq_total = newest.saq_total if newest is not None else None
    case.checks = len(submissions)
    words = [case.reference, *(link.label for link in links), *(f"{r.name} {r.reference}" for r in requests)]
    case.search_text = " ".join(w for w in words if w).lower()


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["TIMEZONE"]))


def case_trend(case: Case, until: datetime | None = None, eface: bool = False) -> Trend:
    """The case's SAQ totals over time (up to ``until``), with each change, the clinicians'
    Sunnybrook composites (and, asked for, eFACE subscores: each grading's latest version) and
    the events recorded on the case (gradings and events as of noon on their day, in the
    clinic's zone)."""
    zone = clinic_zone()
    checks = [(s.submitted_at, s.saq_total) for s in case.submissions if until is None or s.submitted_at <= until]
    events = [Event(datetime.combine(e.on, time(12), zone), e.kind, e.note) for e in case.events]
    shown = {"sunnybrook": ("composite",), **({"eface": ("static", "dynamic", "synkinesis")} if eface else {})}
    grades = [
        (
            datetime.combine(g.latest.visit_on, time(12), zone),
            float(g.latest.scores[score]),
            series_name(g.scale, score),
        )
        for g in case.gradings
        for score in shown.get(g.scale, ())
    ]
    if until is not None:
        events = [e for e in events if e.at <= until]
        grades = [g for g in grades if g[0] <= until]
    scored = any(total is not None for _, total in checks) or grades
    return trend(checks, events if scored else (), zone, grades)


def series_name(scale: str, score: str) -> str:
    """A grading score's series on the chart (checker.trend.GRADE_SERIES)."""
    return "sunnybrook" if scale == "sunnybrook" else f"{scale}-{score}"


def latest_gradings(case: Case, until: datetime | None = None) -> list[Grading]:
    """For each scale, the grading of the case's latest visit (up to ``until``, a day in the
    clinic's zone), in the scales' order."""
    last_day = until.astimezone(clinic_zone()).date() if until is not None else None
    latest: dict[str, Grading] = {}
    for grading in case.gradings:
        visit = grading.latest.visit_on
        if last_day is not None and visit > last_day:
            continue
        kept = latest.get(grading.scale)
        if kept is None or (visit, grading.id) > (kept.latest.visit_on, kept.id):
            latest[grading.scale] = grading
    return [latest[scale] for scale in SCALES if scale in latest]


def refresh_case_of(record: Submission | ConsultationRequest | Invitation) -> None:
    """Bring the summary of the record's case up to date (in the caller's transaction)."""
    if record.case is not None:
        refresh(record.case, current_rules())


def stop_triage(rules: RuleSet) -> str:
    """The triage level of a stop at the emergency page: the level that stops the questionnaire."""
    return next((level.id for level in rules.triage_levels if level.stops), rules.triage_levels[0].id)
