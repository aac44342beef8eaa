"""Clinicians' gradings of a case (Sunnybrook, eFACE, House–Brackmann): recorded, amended as
new versions, never edited; scored by :mod:`checker.grading`, shown beside the patient's own."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from ..cases import clinic_zone
from ..db import db, utcnow
from ..exports.fhir.grading import grading_bundle
from ..exports.reports import fhir_download
from ..grading import SCALES, Graded, GradingErrors, Scale
from ..models import Case, Grading, GradingVersion
from ..urls import fhir_canon
from ..web.i18n import translate
from .blueprint import bp
from .casework import case_record
from .forms import AmendGradingForm, GradingForm
from .inbox.export import BYTE_ORDER_MARK, safe_cell
from .records import audit


def _scale(scale_id: str) -> Scale:
    return SCALES.get(scale_id) or abort(404)


def _grading(grading_id: int) -> Grading:
    found: Grading = db.session.get(Grading, grading_id) or abort(404)
    return found


def _checked(scale: Scale, raw: dict[str, str]) -> tuple[dict[str, Any], Graded | None, dict[str, str]]:
    """The items' values as stored and their scores, or the message for each item that is wrong."""
    try:
        values, graded = scale.grade(raw)
    except GradingErrors as exc:
        messages = {
            item: _(problem.message, low=problem.low, high=problem.high) for item, problem in exc.problems.items()
        }
        return {}, None, messages
    return values, graded, {}


def _posted_items(scale: Scale) -> dict[str, str]:
    return {item.id: request.form.get(item.id, "") for item in scale.items}


def _summary(form: GradingForm, scale: Scale, item_errors: dict[str, str]) -> list[tuple[str, str]]:
    """(the id to link to, the message) for the error summary, in the page's order."""
    errors = [(field.id, str(field.errors[0])) for field in (form.side, form.visit_on) if field.errors]
    errors += [(item.id, f"{_(item.label)}: {item_errors[item.id]}") for item in scale.items if item.id in item_errors]
    errors += [
        (field.id, str(field.errors[0]))
        for field in form
        if field.errors and field.id not in ("side", "visit_on", "csrf_token")
    ]
    if form.csrf_token.errors:
        errors.insert(0, ("", _("The form had expired. Nothing was saved: check the values and save again.")))
    return errors


def _version(
    grading: Grading, number: int, form: GradingForm, values: dict[str, Any], graded: Graded, reason: str = ""
) -> GradingVersion:
    return GradingVersion(
        grading=grading,
        number=number,
        side=form.side.data,
        visit_on=form.visit_on.data,
        item_values=values,
        scores=graded.scores,
        score_notes=list(graded.notes),
        notes=(form.notes.data or "").strip(),
        reason=reason,
        rater_id=current_user.id,
    )


@bp.route("/cases/<int:case_id>/gradings/<scale_id>", methods=["GET", "POST"])
def grade(case_id: int, scale_id: str) -> Response | str:
    """A new grading of the case on one scale."""
    record, scale = case_record(case_id), _scale(scale_id)
    form = GradingForm()
    raw: dict[str, str] = {}
    item_errors: dict[str, str] = {}
    if request.method == "POST":
        raw = _posted_items(scale)
        valid = form.validate_on_submit()
        values, graded, item_errors = _checked(scale, raw)
        if valid and graded is not None:
            grading = Grading(case_id=record.id, scale=scale.id)
            db.session.add(_version(grading, 1, form, values, graded))
            db.session.flush()
            audit("saved grading", f"case {record.id} grading {grading.id} ({scale.id}, version 1)", record)
            db.session.commit()
            flash(_("Grading saved."))
            return redirect(url_for("clinic.grading", grading_id=grading.id))
    return _form_page(record, scale, form, raw, item_errors)


@bp.get("/gradings/<int:grading_id>")
def grading(grading_id: int) -> str:
    """A grading: its latest version, and every version before it."""
    found = _grading(grading_id)
    audit("viewed grading", f"case {found.case_id} grading {found.id}", found.case)
    db.session.commit()
    return render_template("clinic/grading.html", grading=found, case=found.case, scale=SCALES[found.scale])


@bp.route("/gradings/<int:grading_id>/amend", methods=["GET", "POST"])
def amend_grading(grading_id: int) -> Response | str:
    """The next version of a grading, with why; the versions before stay as they were."""
    found = _grading(grading_id)
    scale, latest = SCALES[found.scale], found.latest
    if request.method == "GET":
        form = AmendGradingForm(
            side=latest.side, visit_on=latest.visit_on, notes=latest.notes, based_on=str(latest.number)
        )
        raw = {key: str(value) for key, value in latest.item_values.items()}
        return _form_page(found.case, scale, form, raw, {}, found)
    form = AmendGradingForm()
    raw = _posted_items(scale)
    valid = form.validate_on_submit()
    values, graded, item_errors = _checked(scale, raw)
    if valid and graded is not None:
        if form.based_on.data != str(latest.number):
            return _amended_meanwhile(found)
        number = latest.number + 1
        db.session.add(_version(found, number, form, values, graded, form.reason.data.strip()))
        audit(
            "amended grading", f"case {found.case_id} grading {found.id} ({found.scale}, version {number})", found.case
        )
        try:
            db.session.commit()
        except IntegrityError:  # the same version number, saved a moment ago by someone else
            db.session.rollback()
            return _amended_meanwhile(found)
        flash(_("Grading amended: version %(number)s.", number=number))
        return redirect(url_for("clinic.grading", grading_id=found.id))
    return _form_page(found.case, scale, form, raw, item_errors, found)


def _amended_meanwhile(found: Grading) -> Response:
    flash(
        _(
            "Someone amended this grading after you opened it. Nothing was saved: "
            "read their version, then amend again if needed."
        )
    )
    return redirect(url_for("clinic.grading", grading_id=found.id))


def _form_page(
    case: Case,
    scale: Scale,
    form: GradingForm,
    raw: dict[str, str],
    item_errors: dict[str, str],
    amending: Grading | None = None,
) -> str:
    return render_template(
        "clinic/grading_form.html",
        case=case,
        scale=scale,
        form=form,
        raw={key: value[:20] for key, value in raw.items()},  # shown again as typed, within reason
        item_errors=item_errors,
        errors=_summary(form, scale, item_errors) if request.method == "POST" else [],
        amending=amending,
    )


@bp.get("/gradings/<int:grading_id>.fhir.json")
def grading_fhir(grading_id: int) -> Response:
    """The grading's latest version as a FHIR Bundle: a QuestionnaireResponse and its scores as
    Observations (category exam)."""
    found = _grading(grading_id)
    number = found.latest.number
    audit("exported grading FHIR", f"case {found.case_id} grading {found.id} (version {number})", found.case)
    db.session.commit()
    return fhir_download(grading_bundle_of(found), f"grading-{found.id}-v{number}.fhir.json")


def grading_bundle_of(found: Grading) -> dict[str, Any]:
    """A grading's latest version as its FHIR Bundle, in this request's language."""
    version = found.latest
    return grading_bundle(
        SCALES[found.scale],
        fhir_canon(),
        grading_id=found.id,
        version=version.number,
        side=version.side,
        visit_on=version.visit_on,
        saved_at=version.created_at,
        values=version.item_values,
        scores=version.scores,
        rater=version.rater.email if version.rater else None,
        patient=found.case.reference or None,
        translate=translate,
    )


@bp.get("/grading")
def how_grading_works() -> str:
    """The scales, their formulas and sources, and how far a change can be trusted."""
    return render_template("clinic/how_grading_works.html", scales=SCALES.values())


def _csv_header() -> list[str]:
    zone = str(clinic_zone())
    header = ["case", "reference", "grading", "scale", "visit_on", "side", "version", f"saved_at ({zone})", "rated_by"]
    header += [f"{scale.id}_{score.id}" for scale in SCALES.values() for score in scale.scores]
    header += ["score_notes", "notes", "amended_because"]
    return header + [f"{scale.id}_item_{item.id}" for scale in SCALES.values() for item in scale.items]


def _csv_row(grading: Grading) -> list[Any]:
    version, case = grading.latest, grading.case
    row: list[Any] = [case.id, case.reference, grading.id, grading.scale, version.visit_on.isoformat(), version.side]
    row += [version.number, version.created_at.astimezone(clinic_zone()).strftime("%Y-%m-%d %H:%M")]
    row.append(version.rater.email if version.rater else "")
    row += [version.scores.get(score.id, "") if scale.id == grading.scale else "" for scale in SCALES.values()
            for score in scale.scores]  # fmt: skip
    row += ["; ".join(version.score_notes), version.notes, version.reason]
    return row + [version.item_values.get(item.id, "") if scale.id == grading.scale else ""
                  for scale in SCALES.values() for item in scale.items]  # fmt: skip


@bp.get("/gradings.csv")
def gradings_csv() -> Response:
    """One row per grading (its latest version): every raw item and every score, for people."""
    asked = request.args.get("case")
    case = None
    query = select(Grading).options(selectinload(Grading.versions), selectinload(Grading.case)).order_by(Grading.id)
    if asked is not None:
        case = case_record(int(asked)) if asked.isascii() and asked.isdigit() and len(asked) < 10 else abort(404)
        query = query.where(Grading.case_id == case.id)
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer)
    writer.writerow(_csv_header())
    for found in db.session.scalars(query):
        writer.writerow([safe_cell(cell) for cell in _csv_row(found)])
    audit("exported gradings CSV", f"case {case.id}" if case is not None else "all cases", case)
    db.session.commit()
    response = Response(buffer.getvalue(), mimetype="text/csv")
    name = f"gradings-case-{case.id}" if case is not None else "gradings"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{utcnow():%Y-%m-%d}.csv"'
    return response
