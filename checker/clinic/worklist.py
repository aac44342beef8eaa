"""The safety worklist: what a staff member must see before anything else, each item until a
named staff member acknowledges it (audited).

- a patient on a link stopped at the emergency page;
- a patient on a link was told to get care today and has not sent their answers;
- a link not opened as its appointment comes near (``CHECKER_WORKLIST_UNOPENED_DAYS`` before);
- a scheduled follow-up link that is due for a case with no email address, not yet copied;
- an email (to a patient, or a notice to the clinic) that failed and is not sent yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.wrappers import Response

from ..cases import refresh_case_of
from ..db import db, utcnow
from ..models import Case, Invitation, OutboxMessage, WorklistAck
from ..rules import current_rules
from .blueprint import bp
from .forms import ActionForm
from .records import audit

KINDS = ("stop", "flags", "unopened", "to_send", "failed_send")


@dataclass(frozen=True)
class Item:
    kind: str  # one of KINDS
    target_id: int  # the invitation's id, or the outbox message's
    at: datetime | None  # when it happened, or the appointment
    case: Case | None
    invitation: Invitation | None = None
    message: OutboxMessage | None = None


def _acked(kind: str, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    return ~exists().where(WorklistAck.kind == kind, WorklistAck.target_id == column)


def items(now: datetime) -> list[Item]:
    """Every item waiting for acknowledgement, the most urgent kinds first, oldest first."""
    live = and_(Invitation.revoked_at.is_(None))
    found: list[Item] = []
    stops = select(Invitation).where(live, Invitation.stopped_at.is_not(None), Invitation.stop_reviewed_at.is_(None))
    found += [
        Item("stop", i.id, i.stopped_at, i.case, i) for i in db.session.scalars(stops.order_by(Invitation.stopped_at))
    ]
    flags = select(Invitation).where(
        live, Invitation.flagged_at.is_not(None), Invitation.flags_reviewed_at.is_(None), Invitation.used_at.is_(None)
    )
    found += [
        Item("flags", i.id, i.flagged_at, i.case, i) for i in db.session.scalars(flags.order_by(Invitation.flagged_at))
    ]
    soon = now + timedelta(days=current_app.config["WORKLIST_UNOPENED_DAYS"])
    unopened = select(Invitation).where(
        live,
        Invitation.appointment_at.is_not(None),
        Invitation.appointment_at <= soon,
        Invitation.appointment_at > now - timedelta(days=1),
        Invitation.opened_at.is_(None),
        Invitation.used_at.is_(None),
        _acked("unopened", Invitation.id),
    )
    found += [
        Item("unopened", i.id, i.appointment_at, i.case, i)
        for i in db.session.scalars(unopened.order_by(Invitation.appointment_at))
    ]
    to_send = select(Invitation).where(
        live,
        Invitation.schedule_id.is_not(None),
        Invitation.by_email.is_(False),
        Invitation.link_seed.is_not(None),
        Invitation.used_at.is_(None),
        Invitation.expires_at > now,
        _acked("to_send", Invitation.id),
    )
    found += [
        Item("to_send", i.id, i.created_at, i.case, i) for i in db.session.scalars(to_send.order_by(Invitation.id))
    ]
    failed = select(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0, _acked("failed_send", OutboxMessage.id)
    )
    for message in db.session.scalars(failed.order_by(OutboxMessage.created_at)):
        invitation = db.session.get(Invitation, message.invitation_id) if message.invitation_id else None
        found.append(
            Item(
                "failed_send",
                message.id,
                message.created_at,
                invitation.case if invitation else None,
                invitation,
                message,
            )
        )
    return found


def count(now: datetime) -> int:
    return len(items(now))


@bp.get("/worklist")
def worklist() -> str:
    now = utcnow()
    audit("viewed worklist")
    db.session.commit()
    return render_template("clinic/worklist.html", items=items(now), now=now, form=ActionForm(), rules=current_rules())


@bp.post("/worklist/<kind>/<int:target_id>")
def acknowledge(kind: str, target_id: int) -> Response:
    """A staff member has seen the item and acts on it: it leaves the worklist, audited by name."""
    if kind not in KINDS:
        abort(404)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("clinic.worklist"))
    now, case = utcnow(), None
    if kind in ("stop", "flags", "unopened", "to_send"):
        invitation = db.session.get(Invitation, target_id) or abort(404)
        case = invitation.case
        if kind == "stop" and invitation.stopped_at and not invitation.stop_reviewed_at:
            invitation.stop_reviewed_at = now
        elif kind == "flags" and invitation.flagged_at and not invitation.flags_reviewed_at:
            invitation.flags_reviewed_at = now
        refresh_case_of(invitation)
    else:
        message = db.session.get(OutboxMessage, target_id) or abort(404)
        linked = db.session.get(Invitation, message.invitation_id) if message.invitation_id else None
        case = linked.case if linked is not None else None
    if kind in ("unopened", "to_send", "failed_send"):
        try:
            with db.session.begin_nested():
                db.session.add(WorklistAck(kind=kind, target_id=target_id, staff_id=current_user.id))
        except IntegrityError:
            pass  # another staff member acknowledged it a moment ago
    audit("acknowledged", f"worklist {kind} {target_id}", case)
    db.session.commit()
    flash(_("Acknowledged. It is no longer on the worklist."))
    return redirect(url_for("clinic.worklist"))
