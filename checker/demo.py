"""``flask --app checker demo``: an empty database filled with a made-up clinic, to see the product
working in a minute (and to take the guides' screenshots from).

Everything is made the way the app makes it (answers assessed by the rule engine, gradings
scored by their scales, each case summarised by :func:`checker.cases.refresh`), dated back
from now: a year of follow-up around botulinum toxin sessions, a stop at the emergency page,
advice to get care today that was never sent, a check with a request to be called, a link
close to its appointment that nobody opened. Every person in it is invented.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select

from .cases import clinic_zone, reference_key, refresh
from .clinic.accounts.auth import hasher
from .clinic.accounts.staff import UNUSABLE, password_problem
from .db import DatabaseCommand, db, utcnow
from .engine import AnswerErrors, RuleSet, assess
from .grading import SCALES
from .models import (
    AuditEvent,
    Case,
    CaseEvent,
    CaseNote,
    ConsultationRequest,
    FollowUpSchedule,
    Grading,
    GradingVersion,
    Invitation,
    LinkEmail,
    StaffUser,
    Submission,
    token_hash,
)
from .outreach import scheduled_label
from .rules import current_rules
from .shown_once import new_seed, token_from
from .stored import new_submission

LEAD = "lead@clinic.example"
COLLEAGUES = ("dr.alvarez@clinic.example", "nurse.kim@clinic.example")


class DemoError(click.ClickException):
    """The demo cannot be made here (one line, no traceback)."""


class Clinic:
    """Writes the made-up clinic, every date counted back from ``now``."""

    def __init__(self, rules: RuleSet, now: datetime, password: str) -> None:
        self.rules, self.now = rules, now
        self.lead = self._staff(LEAD, "admin", hasher.hash(password))
        self.doctor, self.nurse = (self._staff(email, "staff", UNUSABLE) for email in COLLEAGUES)

    def ago(self, days: float = 0, hours: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours)

    def day(self, days: float) -> date:
        """The date in the clinic's zone ``days`` ago."""
        return self.ago(days).astimezone(clinic_zone()).date()

    def _staff(self, email: str, role: str, password_hash: str) -> StaffUser:
        user = StaffUser(email=email, role=role, password_hash=password_hash, created_at=self.ago(400))
        db.session.add(user)
        db.session.flush()
        return user

    def answers(self, like: str, **changes: Any) -> dict[str, Any]:
        """A worked case's answers from the rules file, changed."""
        found = next((case for case in self.rules.cases if case.name == like), None)
        if found is None:
            raise DemoError(f"the rules file has no worked case '{like}', which the demo starts from")
        answers = {k: v for k, v in {**found.answers, **changes}.items() if v is not None}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in answers.items()}

    def case(self, reference: str, days: float, assigned: StaffUser | None = None, **fields: Any) -> Case:
        """A case opened ``days`` ago."""
        record = Case(reference=reference, reference_key=reference_key(reference), created_at=self.ago(days),
                      assigned_to=assigned, **fields)  # fmt: skip
        db.session.add(record)
        db.session.flush()
        return record

    def link(
        self,
        case: Case,
        days: float,
        label: str = "",
        follow_up: bool = False,
        schedule: FollowUpSchedule | None = None,
        **fields: Any,
    ) -> Invitation:
        """A clinic link made ``days`` ago by the nurse, or by ``schedule`` for its due date then."""
        made = self.ago(days)
        if schedule is not None:
            due = self.day(days)
            label, follow_up = scheduled_label(schedule, due), True
            fields |= {"schedule_id": schedule.id, "due_key": due.isoformat()}
        link = Invitation(
            token_hash=token_hash(token_from(new_seed())),
            case_id=case.id,
            follow_up=follow_up,
            label=label,
            created_by_id=None if schedule else self.nurse.id,
            created_at=made,
            expires_at=made + timedelta(days=30),
            **fields,
        )
        db.session.add(link)
        db.session.flush()
        if schedule is None:
            action = "created follow-up link" if follow_up else "created invitation"
            self.audit(self.nurse, action, made, case, f"invitation {link.id}")
        return link

    def check(
        self,
        case: Case,
        days: float,
        answers: Mapping[str, Any],
        link: Invitation | None = None,
        reviewed: float | None = None,
    ) -> Submission:
        """A self-check sent ``days`` ago (through ``link``), reviewed ``reviewed`` days ago."""
        sent = self.ago(days)
        try:
            result = assess(self.rules, answers)
        except AnswerErrors as exc:  # a clinic's own rules file, changed since the demo was written
            problems = "; ".join(f"{question}: {message}" for question, message in exc.errors.items())
            raise DemoError(f"the demo's answers do not fit this rules file ({problems})") from None
        check = new_submission(
            dict(answers),
            result,
            case_id=case.id,
            started_at=sent - timedelta(minutes=6),
            submitted_at=sent,
        )
        if link is not None:
            check.invitation_id = link.id
            link.opened_at, link.started_at, link.used_at = sent - timedelta(minutes=7), check.started_at, sent
        if reviewed is not None:
            check.status, check.reviewed_by, check.reviewed_at = "reviewed", self.doctor, self.ago(reviewed)
        db.session.add(check)
        db.session.flush()
        if reviewed is not None:
            self.audit(self.doctor, "marked reviewed", self.ago(reviewed), case, f"submission {check.id}")
        return check

    def request(self, case: Case, check: Submission, days: float, reference: str, **person: str) -> None:
        """A request to be contacted, sent with ``check`` ``days`` ago."""
        made = self.ago(days)
        db.session.add(
            ConsultationRequest(
                reference=reference, consent_at=made, created_at=made, submission=check, case=case, **person
            )
        )

    def grade(self, case: Case, scale: str, days: float, raw: Mapping[str, str], notes: str = "") -> None:
        """The doctor's grading of the left side at a visit ``days`` ago, scored by its scale."""
        values, graded = SCALES[scale].grade(dict(raw))
        grading = Grading(case_id=case.id, scale=scale, created_at=self.ago(days))
        grading.versions.append(
            GradingVersion(
                number=1,
                side="left",
                visit_on=self.day(days),
                item_values=values,
                scores=graded.scores,
                score_notes=list(graded.notes),
                notes=notes,
                rater=self.doctor,
                created_at=self.ago(days),
            )
        )
        db.session.add(grading)
        db.session.flush()
        self.audit(self.doctor, "saved grading", self.ago(days), case, f"case {case.id} grading {grading.id}")

    def audit(self, who: StaffUser, action: str, at: datetime, case: Case | None, target: str) -> None:
        db.session.add(
            AuditEvent(
                staff_id=who.id,
                action=action,
                at=at,
                target=target,
                case_id=case.id if case else None,
                reference=case.reference if case else "",
            )
        )


def sunnybrook(eye: str, smile: str, synkinesis: str) -> dict[str, str]:
    """Sunnybrook items: a narrow eye at rest, movement and synkinesis as given (1-5, 0-3)."""
    raw = {
        "rest_eye": eye,
        "rest_cheek": "less",
        "rest_mouth": "normal",
        "move_brow": "3",
        "move_eye": "4",
        "move_smile": smile,
        "move_snarl": smile,
        "move_pucker": "4",
    }
    return raw | {f"synk_{part}": synkinesis for part in ("brow", "eye", "smile", "snarl", "pucker")}


def eface(ocular: int, smile: int) -> dict[str, str]:
    """eFACE items for a face with synkinesis: ``ocular`` and the smile's commissure as given."""
    raw = {
        "brow_rest": 90,
        "fissure_rest": 85,
        "fold_depth_rest": 80,
        "commissure_rest": 90,
        "brow_elevation": 70,
        "gentle_eye_closure": 95,
        "full_eye_closure": 100,
        "fold_depth_smile": smile,
        "fold_orientation_smile": smile,
        "commissure_smile": smile,
        "lower_lip": 90,
        "ocular_synkinesis": ocular,
        "midfacial_synkinesis": 80,
        "mentalis_synkinesis": 85,
        "platysmal_synkinesis": 90,
    }
    return {item: str(value) for item, value in raw.items()}


def fill(clinic: Clinic) -> None:
    """The clinic's cases, from the longest-followed to the newest."""
    c = clinic
    # A year of follow-up: Bell's palsy, synkinesis treated with botulinum toxin every three months;
    # the SAQ falls from 48.9 to 28.9 as the eye closes less on a smile.
    year = c.case("MRN-204815", 300, assigned=c.doctor)
    first = c.link(year, 296.2, "First visit, Tue 9:30")
    saq = {"saq_eye_smile": 4, "saq_eye_speak": 4, "saq_eye_pucker": 4, "saq_neck_smile": 3, "saq_mouth_eyes": 3}
    c.check(year, 295.4, c.answers("four-months-early-signs", **saq), first, 294.1)
    c.grade(year, "house-brackmann", 294, {"grade": "III"}, "Moderate dysfunction; early synkinesis.")
    c.grade(year, "sunnybrook", 294, sunnybrook("narrow", "3", "2"))
    c.grade(year, "eface", 294, eface(55, 60))
    for session in (280, 190, 100, 10):
        db.session.add(
            CaseEvent(
                case_id=year.id,
                kind="toxin",
                on=c.day(session),
                note="Orbicularis oculi, 5 units",
                created_by_id=c.doctor.id,
                created_at=c.ago(session),
            )
        )
    # A link six weeks after each session, made by the schedule; answered two or three days later.
    schedule = FollowUpSchedule(
        case_id=year.id, starts_on=c.day(285), after_event="toxin", offsets_weeks=[6], created_by_id=c.doctor.id
    )
    schedule.created_at = c.ago(285)
    db.session.add(schedule)
    db.session.flush()
    items = ("saq_eye_smile", "saq_eye_speak", "saq_eye_pucker", "saq_mouth_eyes", "saq_neck_smile", "saq_chin_dimple")
    for session, onset, scores in (
        (280, "6m_12m", (4, 3, 3, 3, 3, 2)),
        (190, "12m_18m", (3, 2, 3, 2, 2, 2)),
        (100, "gt_18m", (3, 1, 2, 1, 2, 1)),
    ):
        link = c.link(year, session - 42, schedule=schedule)
        answers = c.answers(
            "two-years-botox", cause="bells_palsy", time_since_onset=onset, **dict(zip(items, scores, strict=True))
        )
        sent = session - 42 - 2.6
        c.check(year, sent, answers, link, None if sent < 100 else sent - 1.2)
    c.grade(year, "sunnybrook", 56, sunnybrook("normal", "4", "1"), "Less ocular synkinesis after toxin.")
    c.grade(year, "eface", 56, eface(75, 80))
    db.session.add(
        CaseNote(
            case_id=year.id,
            staff=c.doctor,
            at=c.ago(56),
            text="Good response to toxin; continue mirror exercises at home.",
        )
    )

    # On a first-visit link, a possible stroke: the check stopped at the emergency page an hour ago.
    stop = c.case("MRN-310277", 1)
    link = c.link(stop, 1, "New patient, Thu 10:30", opened_at=c.ago(hours=1.2), started_at=c.ago(hours=1.1))
    link.stopped_at = c.ago(hours=1)
    # Told to get care today for a painful red eye, and never sent the answers.
    eye = c.case("MRN-188430", 2)
    link = c.link(eye, 2, "New patient, Fri 14:00", opened_at=c.ago(hours=3.2), started_at=c.ago(hours=3.1))
    link.flags, link.flags_triage, link.flagged_at = ["eye_exposure"], "urgent", c.ago(hours=3)
    # Nine months after Ramsay Hunt syndrome, a new check and a request to be called.
    new = c.case("MRN-402911", 6, assigned=c.nurse)
    check = c.check(new, 2, c.answers("nine-months-established"), c.link(new, 6, "New patient, Mon 11:15"))
    c.request(new, check, 2, "K7M4-QX2P", name="Rosa Delgado", phone="555 010 4477", contact_time="morning")
    # Someone who found the site on their own: a check and a request, no clinic reference.
    walk_in = c.case("", 1)
    check = c.check(walk_in, 1, c.answers("five-months-strong-but-early"))
    c.request(walk_in, check, 1, "P3RT-8WZN", name="Luis Ortega", email="luis@example.org", contact_time="afternoon",
              message="Mi ojo se cierra cuando sonrío.")  # fmt: skip
    # Emailed in Spanish six days ago for tomorrow's appointment, reminded once, never opened: on
    # the worklist (the second reminder is due tomorrow).
    unopened = c.case("MRN-377120", 6, email="paciente@example.org", language="es")
    link = c.link(
        unopened, 6, "New patient, tomorrow 8:45", by_email=True, mail_seed=new_seed(), appointment_at=c.ago(-1)
    )
    for number, days in ((0, 6), (1, 3)):
        db.session.add(LinkEmail(invitation_id=link.id, number=number, queued_at=c.ago(days), sent_at=c.ago(days)))
    # Six weeks after Bell's palsy with no movement back yet: reviewed, seen soon.
    early = c.case("MRN-255603", 12, assigned=c.doctor)
    c.check(early, 10, c.answers("no-recovery-six-weeks"), c.link(early, 11, "New patient"), 9)
    # Fully recovered: synkinesis not suggested.
    recovered = c.case("MRN-129904", 40)
    c.check(recovered, 35, c.answers("full-recovery"), c.link(recovered, 40, "New patient"), 30)
    # A check under way, and a link that ran out unopened.
    started = c.case("MRN-441873", 1)
    c.link(started, 1, "New patient, Mon 9:00", opened_at=c.ago(hours=20), started_at=c.ago(hours=20))
    c.link(c.case("MRN-090112", 45), 45, "New patient, Oct clinic")
    for record in db.session.scalars(select(Case)):
        refresh(record, clinic.rules, clinic.now)


@click.command("demo", cls=DatabaseCommand)
@click.option(
    "--password",
    help="The demo account's password (default: a new random one, printed). Unlike a real account's, it may be "
    "given here: the account exists only in the demo's invented clinic.",
)
@with_appcontext
def demo_command(password: str | None) -> None:
    """Fill an empty database with a made-up clinic and a staff account to sign in with.

    Creates the tables first when there are none (as 'db upgrade'). For trying the product and
    for the guides' screenshots; refused in production and on a database that holds anything.
    """
    if current_app.config["ENV"] == "production":
        raise DemoError("the demo is refused in production: it would mix invented patients with real ones")
    if inspect(db.engine).has_table(StaffUser.__tablename__):
        held = db.session.scalar(select(func.count()).select_from(StaffUser)) or 0
        held += db.session.scalar(select(func.count()).select_from(Case)) or 0
        db.session.rollback()
        if held:
            raise DemoError(
                "the database is not empty: the demo fills only a new one (point CHECKER_DATABASE_URL "
                "at a new database, or move instance/checker.db away)"
            )
    if password is None:
        password = secrets.token_urlsafe(12)
        while password_problem(password, LEAD):  # random, but now and then judged easy: another
            password = secrets.token_urlsafe(12)
    elif problem := password_problem(password, LEAD):
        raise DemoError(problem)
    upgrade()  # the tables, at the migrations' head (nothing to do when they are there)
    fill(Clinic(current_rules(), utcnow(), password))
    db.session.commit()
    click.echo(f"A made-up clinic: {db.session.scalar(select(func.count()).select_from(Case))} cases.")
    click.echo(f"Sign in at /staff/ as {LEAD} with the password {password}")
