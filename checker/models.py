"""What the clinic keeps: staff, cases, invitations, drafts, submissions, consultation requests, audit.

A case is one person as the clinic sees them: the links sent to them, the self-checks
they sent, their consultation requests and the staff's notes. Its summary columns
(state, priority, since...) are kept up to date by :mod:`checker.cases`, so the inbox
can page through many cases with indexes alone.

Tokens given to people (invitation and resume links) are stored only as SHA-256 hashes, so
the database alone cannot be used to open them.

No ``from __future__ import annotations`` here: SQLAlchemy would evaluate each column's
annotation string itself, a tenth of the time this module takes to import. Relationships
name their classes in quotes instead, as classes defined further down.
"""

import hashlib
import secrets
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import UTCDateTime, db, utcnow
from .engine import Result, RuleSet
from .measure import Measure

if TYPE_CHECKING:
    from .stored import StoredResult

TOKEN_BYTES = 24  # 192 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StaffUser(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    role: Mapped[str] = mapped_column(String(20), default="staff")  # staff | admin
    active: Mapped[bool] = mapped_column(default=True)  # a disabled account cannot sign in
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # set once two-factor sign-in is enrolled
    totp_last_step: Mapped[int | None] = mapped_column()  # the last code's time step: no older code works
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # SHA-256 of the unused ones
    pending_totp_secret: Mapped[str | None] = mapped_column(String(64))  # being enrolled, until its first code
    recovery_seed: Mapped[str | None] = mapped_column(String(64))  # the new codes, until shown once

    # Flask-Login's user interface
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return str(self.id)


class StaffSession(db.Model):  # type: ignore[name-defined,misc]
    """One signed-in browser: ends at sign-out, after an idle spell, or after a fixed lifetime.

    The cookie carries a random token; only its hash is kept. Deleting the row ends every
    copy of that cookie.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(64))  # the client's address, as the configured proxies give it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingSignIn(db.Model):  # type: ignore[name-defined,misc]
    """A browser that gave the right password and must now give a code: the cookie holds a
    random token, the row says whose password it was, so no cookie alone stands for it."""

    __tablename__ = "pending_sign_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_path: Mapped[str] = mapped_column(String(500), default="")  # the staff page asked for

    staff: Mapped["StaffUser"] = relationship()


class SpentCode(db.Model):  # type: ignore[name-defined,misc]
    """A two-factor code used once: a row each, unique, so two requests sending the same code at
    the same moment cannot both be let in (the database refuses the second row)."""

    __tablename__ = "spent_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # totp (value: the time step) | recovery (value: its hash)
    value: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("staff_id", "kind", "value"),)


class PasswordLink(db.Model):  # type: ignore[name-defined,misc]
    """A one-time link for a staff member to set their own password (new account or reset)."""

    __tablename__ = "password_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    link_seed: Mapped[str | None] = mapped_column(String(64))  # until shown once (checker.shown_once)

    staff: Mapped["StaffUser"] = relationship()


class SignInFailure(db.Model):  # type: ignore[name-defined,misc]
    """A refused sign-in: one row each, so parallel attempts are all counted.

    ``account`` is the SHA-256 of the normalised email, known account or not, so an unknown
    email is throttled exactly like a real one and no typed email is stored.
    """

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    while_throttled: Mapped[bool] = mapped_column(default=False)  # not counted towards the account-wide limit

    __table_args__ = (Index("ix_sign_in_failure_account_at", "account", "at"),)


class Case(db.Model):  # type: ignore[name-defined,misc]
    """One person as the clinic sees them; the columns after ``assigned_to_id`` summarise its parts."""

    __tablename__ = "clinic_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), default="")  # the clinic's own, e.g. a record number
    # The reference as compared (no spaces, case-folded): unique, so one person has one open case.
    # None when there is no reference, or once the case is merged into another.
    reference_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the app sends this person's links and reminders, and in which language: kept only
    # while a link or a schedule needs it (checker.retention clears it), never logged.
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    # What the inbox sorts and filters by (see checker.cases.refresh):
    state: Mapped[str] = mapped_column(
        String(10), default="open"
    )  # waiting | reviewed | open (nothing received) | merged
    priority: Mapped[int] = mapped_column(default=99)  # the triage level's place, most severe = 0
    triage: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # waiting since, or last activity
    has_request: Mapped[bool] = mapped_column(default=False)
    requester: Mapped[str] = mapped_column(String(140), default="")  # the newest request's name and reference
    label: Mapped[str] = mapped_column(String(80), default="")  # the newest link's label
    link_state: Mapped[str | None] = mapped_column(String(12))  # the newest link's state
    link_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))  # of the newest self-check
    saq_total: Mapped[float | None]
    checks: Mapped[int] = mapped_column(default=0)
    search_text: Mapped[str] = mapped_column(Text, default="")  # reference, labels, names, lower case

    assigned_to: Mapped["StaffUser | None"] = relationship()
    invitations: Mapped[list["Invitation"]] = relationship(back_populates="case", order_by="Invitation.id")
    submissions: Mapped[list["Submission"]] = relationship(back_populates="case", order_by="Submission.submitted_at")
    requests: Mapped[list["ConsultationRequest"]] = relationship(
        back_populates="case", order_by="ConsultationRequest.created_at"
    )
    notes: Mapped[list["CaseNote"]] = relationship(
        back_populates="case", order_by="CaseNote.id", cascade="all, delete-orphan"
    )
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", order_by="(CaseEvent.on, CaseEvent.id)", cascade="all, delete-orphan"
    )
    schedules: Mapped[list["FollowUpSchedule"]] = relationship(
        back_populates="case", order_by="FollowUpSchedule.id", cascade="all, delete-orphan"
    )
    gradings: Mapped[list["Grading"]] = relationship(
        back_populates="case", order_by="Grading.id", cascade="all, delete-orphan"
    )

    def link_status(self, now: datetime) -> str | None:
        """The newest link's state now: the stored one, or "expired" once an unused link ran out."""
        expired = self.link_expires_at is not None and self.link_expires_at <= now
        return "expired" if self.link_state in UNUSED_LINK_STATES and expired else self.link_state

    __table_args__ = (
        Index("ix_clinic_case_queue", "priority", "since", "id"),
        Index("ix_clinic_case_state_queue", "state", "priority", "since", "id"),
        Index("ix_clinic_case_state_since", "state", "since", "id"),
        Index("ix_clinic_case_request_queue", "has_request", "priority", "since", "id"),
        Index("ix_clinic_case_link_queue", "link_state", "priority", "since", "id"),
    )


EVENT_KINDS = ("toxin", "operation", "other")


class CaseEvent(db.Model):  # type: ignore[name-defined,misc]
    """Something dated that staff record on a case because it may change the score: a botulinum
    toxin session, an operation. Marked on the trend; follow-up schedules can count from it."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # one of EVENT_KINDS
    on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(80), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped["Case"] = relationship(back_populates="events")


class FollowUpSchedule(db.Model):  # type: ignore[name-defined,misc]
    """When a case's follow-up links are made (and sent, when the case has an email address):
    every N weeks from the schedule's start, or at chosen weeks after each dated event of a kind
    (a toxin session, an operation). Each due date makes one link, once (``Invitation.due_key``)."""

    __tablename__ = "follow_up_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    every_weeks: Mapped[int | None] = mapped_column()  # a link every N weeks from starts_on
    starts_on: Mapped[date] = mapped_column(Date)
    after_event: Mapped[str | None] = mapped_column(String(12))  # or: weeks after each event of this kind
    offsets_weeks: Mapped[list[int]] = mapped_column(JSON, default=list)
    days_valid: Mapped[int] = mapped_column(default=30)  # each link works this long
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped["Case"] = relationship(back_populates="schedules")


class CaseNote(db.Model):  # type: ignore[name-defined,misc]
    """A staff member's note on a case."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    case: Mapped["Case"] = relationship(back_populates="notes")
    staff: Mapped["StaffUser | None"] = relationship()


class Grading(db.Model):  # type: ignore[name-defined,misc]
    """A clinician's grading of a case on one scale (checker.grading) at one visit.

    Its versions are what was recorded, as it was recorded: none is ever changed; an amendment
    is the next version, with who made it and why.
    """

    __tablename__ = "grading"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    scale: Mapped[str] = mapped_column(String(20))  # sunnybrook | eface | house-brackmann
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped["Case"] = relationship(back_populates="gradings")
    versions: Mapped[list["GradingVersion"]] = relationship(
        back_populates="grading", order_by="GradingVersion.number", cascade="all, delete-orphan"
    )

    @property
    def latest(self) -> "GradingVersion":
        return self.versions[-1]


class GradingVersion(db.Model):  # type: ignore[name-defined,misc]
    """One version of a grading: the raw item values, the scores the server computed from them,
    the side, the visit's date, the rater and notes; from the second on, why it was amended."""

    __tablename__ = "grading_version"
    __table_args__ = (UniqueConstraint("grading_id", "number"),)  # two amendments at once: one wins

    id: Mapped[int] = mapped_column(primary_key=True)
    grading_id: Mapped[int] = mapped_column(ForeignKey("grading.id", ondelete="CASCADE"))  # uq leads with it
    number: Mapped[int] = mapped_column()  # 1, 2, ...
    side: Mapped[str] = mapped_column(String(5))  # the affected side: left | right
    visit_on: Mapped[date] = mapped_column(Date)
    item_values: Mapped[dict[str, Any]] = mapped_column(JSON)  # every raw value, as graded
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    score_notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # how the scores were reached
    notes: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was amended (empty for the first)
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    grading: Mapped["Grading"] = relationship(back_populates="versions")
    rater: Mapped["StaffUser | None"] = relationship()


LINK_STATES = ("not_opened", "opened", "started", "stopped", "sent", "expired", "revoked")
UNUSED_LINK_STATES = ("not_opened", "opened")  # these become "expired" once the link runs out


class Invitation(db.Model):  # type: ignore[name-defined,misc]
    """A link a clinic sends to a patient: before the first visit, or to answer again later."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    follow_up: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(String(80), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # reached the emergency page
    stop_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Red flags that interrupt the check (care today), recorded the moment the person was shown them:
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the first
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # their ids, in the order reached
    flags_triage: Mapped[str | None] = mapped_column(String(40))  # the most severe of their levels
    flags_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_seed: Mapped[str | None] = mapped_column(String(64))  # until shown once (checker.shown_once)
    # Sent by the app (to the case's email address): the seed its emails make the link from, kept
    # while an email may still go (the invitation, then at most two reminders), never shown to staff.
    by_email: Mapped[bool] = mapped_column(default=False)
    mail_seed: Mapped[str | None] = mapped_column(String(64))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the invitation email is due then
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the visit it prepares, if known
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_schedule.id", ondelete="SET NULL"))
    due_key: Mapped[str | None] = mapped_column(String(40))  # the schedule's due date this link is for

    case: Mapped["Case | None"] = relationship(back_populates="invitations")
    emails: Mapped[list["LinkEmail"]] = relationship(order_by="LinkEmail.number", cascade="all, delete-orphan")
    created_by: Mapped["StaffUser | None"] = relationship()

    __table_args__ = (
        UniqueConstraint("schedule_id", "due_key"),  # one link for each due date, however many schedulers run
        Index("ix_invitation_mailing", "by_email", "used_at", "revoked_at"),
        Index("ix_invitation_page", "created_at", "id"),  # the invitations page, newest first
    )

    def status(self, now: datetime) -> str:
        """One of :data:`LINK_STATES`. A check started in time can still be sent after expiry."""
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "sent"
        if self.stopped_at is not None:
            return "stopped"
        if self.started_at is not None:
            return "started"
        if self.expires_at <= now:
            return "expired"
        return "opened" if self.opened_at is not None else "not_opened"


class LinkEmail(db.Model):  # type: ignore[name-defined,misc]
    """An email the app sent a patient about a link: the invitation (number 0), then reminders
    (1, 2). Unique per link and number, so two schedulers never send one twice."""

    __tablename__ = "link_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()  # 0: the invitation; 1 and 2: reminders
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dropped: Mapped[str] = mapped_column(String(40), default="")  # why it was not sent, if it was not
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("invitation_id", "number"),)


class Draft(db.Model):  # type: ignore[name-defined,misc]
    """Answers saved on the server as a person goes, found again by an opaque token."""

    __tablename__ = "draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    page: Mapped[str | None] = mapped_column(String(40))  # where to resume
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once sent: the draft stays, so a second "Send" (a double click) finds what it sent.
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id", ondelete="SET NULL"))
    camera: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the camera check's figures (checker.measure)

    invitation: Mapped["Invitation | None"] = relationship()


class Submission(db.Model):  # type: ignore[name-defined,misc]
    """A completed self-check kept for the clinic, with the result the engine gave."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="SET NULL"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(40))
    triage: Mapped[str] = mapped_column(String(40))
    saq_total: Mapped[float | None]
    rules_version: Mapped[str] = mapped_column(String(40))
    rules_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)  # new | reviewed
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    camera: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the camera check's figures, as the person saw them

    invitation: Mapped["Invitation | None"] = relationship()
    case: Mapped["Case | None"] = relationship(back_populates="submissions")
    reviewed_by: Mapped["StaffUser | None"] = relationship()

    @classmethod
    def of(cls, answers: dict[str, Any], result: Result, **fields: Any) -> "Submission":
        """A submission keeping the answers with the result the engine gave for them."""
        from .stored import reason_records

        return cls(
            answers=answers,
            result={**result.to_json(), "reason_templates": reason_records(result)},
            outcome=result.outcome,
            triage=result.triage,
            saq_total=result.saq_total,
            rules_version=result.rules.version,
            rules_sha256=result.rules.sha256,
            **fields,
        )

    @property
    def measure(self) -> Measure | None:
        """The camera check's figures sent with these answers, if any."""
        return Measure.from_json(self.camera) if self.camera else None

    def shown(self, current: RuleSet) -> "StoredResult":
        """The result as it was made and shown, worded by the rules that made it."""
        from .stored import stored_result

        return stored_result(self.answers, self.result, self.rules_version, self.rules_sha256, current)


class RulesText(db.Model):  # type: ignore[name-defined,misc]
    """A rules file that produced a stored result, byte for byte, so its words stay available."""

    __tablename__ = "rules_text"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsultationRequest(db.Model):  # type: ignore[name-defined,misc]
    """A person's request to be contacted about an appointment."""

    __tablename__ = "consultation_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    contact_time: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_case.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)  # new | handled
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission: Mapped["Submission | None"] = relationship()
    case: Mapped["Case | None"] = relationship(back_populates="requests")
    handled_by: Mapped["StaffUser | None"] = relationship()


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """Who viewed, exported or changed what, and when."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")  # e.g. "submission 12"
    case_id: Mapped[int | None] = mapped_column()  # the case it concerns (no key: the event outlives the case)
    reference: Mapped[str] = mapped_column(String(40), default="")  # that case's reference at the time

    staff: Mapped["StaffUser | None"] = relationship()

    __table_args__ = (
        # The log's pages, newest first, whole or by person, kind or case (keyset paging).
        Index("ix_audit_event_page", "at", "id"),
        Index("ix_audit_event_staff_page", "staff_id", "at", "id"),
        Index("ix_audit_event_action_page", "action", "at", "id"),
        Index("ix_audit_event_case_page", "case_id", "at", "id"),
    )


class WorklistAck(db.Model):  # type: ignore[name-defined,misc]
    """A safety worklist item a staff member has acknowledged (a link not opened near its
    appointment, an email that failed): it leaves the worklist. Unique, so it is acknowledged once."""

    __tablename__ = "worklist_ack"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # unopened | failed_send
    target_id: Mapped[int] = mapped_column()  # the invitation's or the outbox message's id
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "target_id"),)


class ReadinessProbe(db.Model):  # type: ignore[name-defined,misc]
    """A row /readyz writes, commits and deletes: proof that a write needing new space commits
    (a full disk, a read-only or deleted database file would refuse it)."""

    __tablename__ = "readiness_probe"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)  # random, larger than a page


class SchemaCompatibility(db.Model):  # type: ignore[name-defined,misc]
    """A migration that the code of an earlier release can still run on (an "expand" step):
    /readyz of that code accepts the schema ahead of it. Written by the migration itself."""

    __tablename__ = "schema_compatibility"

    revision: Mapped[str] = mapped_column(String(32), primary_key=True)
    oldest_code: Mapped[str] = mapped_column(String(32))  # the oldest code's head that runs on it


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """An email to the clinic (or to a patient, about a link), written in the same transaction as
    what it announces, and sent by ``flask outbox run``: a slow or down mail server never delays a
    request or loses a notice."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Made when the notice is queued and sent with every try: a notice delivered twice (a worker
    # stopped between sending and recording it) carries one Message-ID, so receivers can drop the copy.
    message_id: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")  # the kind of failure, never content
    # An email to a patient about a link: to the link's case's address, the link itself written in
    # when it is sent (from the link's mail seed), so the outbox never holds a working link.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), index=True)

    __table_args__ = (Index("ix_outbox_message_due", "sent_at", "next_attempt_at"),)


class EhrLaunch(db.Model):  # type: ignore[name-defined,misc]
    """A SMART App Launch: from the EHR (its ``iss`` and ``launch``) or standalone. The state is
    kept as a hash; the PKCE verifier until the code is exchanged; the tokens stay here, on the
    server, never in a browser or a log. Once authorized it has made a link (``invitation``) on
    the EHR patient's case, which the check is answered on."""

    __tablename__ = "ehr_launch"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "ehr" or "standalone"
    iss: Mapped[str] = mapped_column(String(500))  # the EHR's FHIR base
    token_endpoint: Mapped[str] = mapped_column(String(500))
    code_verifier: Mapped[str | None] = mapped_column(String(128))  # until the code is exchanged
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the authorization must come back by then
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    patient: Mapped[str | None] = mapped_column(String(64))  # the launch context: FHIR ids on the EHR
    encounter: Mapped[str | None] = mapped_column(String(64))
    fhir_user: Mapped[str | None] = mapped_column(String(500))  # who launched, from a checked id_token
    scope: Mapped[str] = mapped_column(Text, default="")  # as granted
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="SET NULL"), unique=True)

    invitation: Mapped["Invitation | None"] = relationship()

    def subject(self) -> str | None:
        """The launch's patient as an absolute reference on its EHR."""
        return f"{self.iss}/Patient/{self.patient}" if self.patient else None

    def visit(self) -> str | None:
        """The launch's encounter as an absolute reference on its EHR."""
        return f"{self.iss}/Encounter/{self.encounter}" if self.encounter else None


class EhrWriteBack(db.Model):  # type: ignore[name-defined,misc]
    """A sent check to file into the EHR it was launched from, done by the outbox worker: tried
    again after a failure the EHR may recover from, given up (with why) after one it will not."""

    __tablename__ = "ehr_write_back"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), unique=True)
    launch_id: Mapped[int | None] = mapped_column(ForeignKey("ehr_launch.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")  # what went wrong, never content
    filed: Mapped[list[str]] = mapped_column(JSON, default=list)  # what the EHR holds: "Type/id" each

    submission: Mapped["Submission"] = relationship()
    launch: Mapped["EhrLaunch | None"] = relationship()

    __table_args__ = (Index("ix_ehr_write_back_due", "filed_at", "given_up_at", "next_attempt_at"),)
