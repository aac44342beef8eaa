"""Clinical wording for staff documents, keyed by the rules' ids.

Patients read the rules' own plain wording; the clinician's summary names the same things
the way a clinician writes them. An id these tables do not know (rules changed since)
falls back to the rules' wording, so nothing is ever left unnamed.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..engine import Reason, RuleSet
from ..web.i18n import join_list, translate
from ..web.i18n import reason_text as patient_reason_text

FLAGS = {
    "stroke_signs": _l("Possible stroke: focal neurological signs or forehead-sparing weakness"),
    "recent_onset": _l("Onset within 72 hours: steroid window; stroke to be excluded"),
    "eye_exposure": _l("Exposure keratopathy risk: incomplete closure with pain, redness or visual change"),
    "ear_rash": _l("Possible Ramsay Hunt syndrome: vesicles, hearing loss or vertigo"),
    "both_sides": _l("Bilateral weakness: atypical for Bell's palsy"),
    "progressive": _l("Progressive or recurrent weakness, or a mass: tumor to be excluded"),
    "no_recovery": _l("No recovery 3 weeks or more after onset: specialist referral due"),
    "eye_not_closing": _l("Lagophthalmos without pain or visual change"),
    "movements_without_palsy": _l("Involuntary facial movements without prior palsy: consider hemifacial spasm"),
}
STAGES = {
    "stage-1": _l("Stage 1: acute paresis and early recovery, no synkinesis"),
    "stage-2": _l("Stage 2: early synkinesis"),
    "stage-3": _l("Stage 3: established synkinesis"),
    "stage-4": _l("Stage 4: after chemodenervation or surgery, long-term management"),
    "not-indicated": _l("Synkinesis not suggested"),
}
TRIAGE = {
    "emergency": _l("Emergency"),
    "urgent": _l("Same-day assessment"),
    "prompt": _l("Assessment within days"),
    "routine": _l("No red flags"),
}
HISTORY = {
    "cause": _l("Cause"),
    "time_since_onset": _l("Time since onset"),
    "initial_severity": _l("Initial severity"),
    "recovery": _l("Recovery"),
    "eye_closure": _l("Eye closure"),
    "twitching": _l("Twitching or spasm"),
    "asymmetry": _l("Asymmetry at rest"),
    "tightness_rest": _l("Tightness at rest"),
    "pattern": _l("Pattern of linked movements"),
    "daily_impact": _l("Functional impact"),
    "treatments": _l("Treatments"),
}
SAQ_ITEMS = {
    "saq_eye_smile": _l("Eye closure with smiling"),
    "saq_eye_speak": _l("Eye closure with speaking"),
    "saq_eye_pucker": _l("Eye closure with whistling or puckering"),
    "saq_neck_smile": _l("Neck tightness with smiling"),
    "saq_face_tight_eyes": _l("Facial tightness with eye closure"),
    "saq_mouth_eyes": _l("Oral commissure movement with eye closure"),
    "saq_neck_eyes": _l("Neck tightness with eye closure"),
    "saq_tears_eating": _l("Tearing with eating"),
    "saq_chin_dimple": _l("Chin dimpling with facial movement"),
}


# The rules' reason templates (2026.1 and 2026.2), as a clinician writes them. The values
# keep the patient's answers; linked movements are named by their SAQ item.
REASONS = {
    "Your face twitches {twitching}.": _l("Facial twitching: {twitching}."),
    "Your face feels tight or stiff at rest {tightness_rest}.": _l("Tightness at rest: {tightness_rest}."),
    "Your face looks {asymmetry} uneven, although its movement has fully come back.": _l(
        "Resting asymmetry ({asymmetry}) despite full return of movement."
    ),
    "You have never had weakness in your face or an injury to the facial nerve, and synkinesis only happens "
    "after the nerve has been injured.": _l("No history of facial palsy or facial nerve injury."),
    "You have already had {treatments}, and the weakness started {time_since_onset}.": _l(
        "Treated with {treatments}; onset {time_since_onset}."
    ),
    "Your linked movements have lasted 6 months or more and follow a steady pattern.": _l(
        "Synkinesis for 6 months or more, in a consistent pattern."
    ),
    "The weakness started {time_since_onset}: linked movements that are still there after 6 months usually "
    "follow a steady pattern, though they can still change until about 16 months.": _l(
        "Onset {time_since_onset}: 6 months or more."
    ),
    "These happen most of the time or more: {linked_frequent.items}.": _l(
        "Frequent synkinesis (most of the time or more): {linked_frequent.items}."
    ),
    "The unwanted movements happen every time you make a certain movement.": _l(
        "Consistent pattern: triggered by every attempt at the movement."
    ),
    "You notice linked movements, and they get in the way of daily life {daily_impact}.": _l(
        "Functional impact of synkinesis: {daily_impact}."
    ),
    "You notice early signs of linked movements or other changes in your face.": _l(
        "Early synkinesis or other post-paralytic changes."
    ),
    "You notice some linked movements: {linked_present.items}.": _l("Synkinesis reported: {linked_present.items}."),
    "The weakness started {time_since_onset}. That is too early for synkinesis: linked movements appear only "
    "months after the nerve starts to heal, so we did not ask about them yet.": _l(
        "Onset {time_since_onset}: too early for synkinesis; SAQ not asked."
    ),
    "Your face is still recovering ({recovery} movement back so far), and you did not report linked movements "
    "or other changes.": _l("Incomplete recovery ({recovery}); no synkinesis or other changes reported."),
    "Your movement has fully come back, and the weakness started {time_since_onset}. That is too early for "
    "synkinesis, so we did not ask about linked movements. If they appear in the coming months, take this "
    "check again.": _l("Full recovery; onset {time_since_onset}, too early for synkinesis; SAQ not asked."),
    "Your movement has fully come back, and you did not report linked movements or other changes.": _l(
        "Full recovery; no synkinesis or other changes reported."
    ),
    # 2026.1 only
    "The weakness started {time_since_onset}: linked movements that are still there after 6 months tend to stay.": _l(
        "Onset {time_since_onset}: 6 months or more."
    ),
    "You have already had {treatments}.": _l("Treated with {treatments}."),
    "Your face looks {asymmetry} uneven.": _l("Resting asymmetry: {asymmetry}."),
}


def reason_text(rules: RuleSet, reason: Reason) -> str:
    """A reason in clinical words when its template is known; otherwise as the patient read it."""
    template = " ".join(reason.template.split())
    clinical = REASONS.get(template)
    if clinical is None:
        return patient_reason_text(reason)
    items = {q.phrase: SAQ_ITEMS[q.id] for q in rules.questions.values() if q.phrase and q.id in SAQ_ITEMS}

    def words(text: str) -> str:
        if text == reason.template:
            return str(clinical)
        item = items.get(text)
        return str(item).lower() if item is not None else translate(text)

    return reason.text(words, join_list)


def flag_name(rules: RuleSet, flag_id: str) -> str:
    found = FLAGS.get(flag_id)
    return str(found) if found is not None else translate(rules.red_flag(flag_id).name)


def stage_name(rules: RuleSet, outcome: str | None) -> str:
    if outcome is None:
        return str(_l("Stopped at the safety questions"))
    found = STAGES.get(outcome)
    return str(found) if found is not None else translate(rules.outcomes[outcome].name)


def triage_name(rules: RuleSet, triage: str) -> str:
    found = TRIAGE.get(triage)
    return str(found) if found is not None else translate(rules.triage_level(triage).name)


def saq_item(rules: RuleSet, question_id: str) -> str:
    found = SAQ_ITEMS.get(question_id)
    return str(found) if found is not None else translate(rules.questions[question_id].text)


def history_label(rules: RuleSet, question_id: str) -> str:
    found = HISTORY.get(question_id)
    return str(found) if found is not None else translate(rules.questions[question_id].text)


def saq_items(rules: RuleSet) -> tuple[str, ...]:
    """The question ids the SAQ total is made from, in the questionnaire's order."""
    return next((d.group for d in rules.derived if d.id == rules.score), ())


TEMPLATE_GLOBALS = {
    "clinical_flag": flag_name,
    "clinical_stage": stage_name,
    "clinical_triage": triage_name,
    "clinical_saq_item": saq_item,
    "saq_items": saq_items,
    "clinical_history": history_label,
    "clinical_reason": reason_text,
}
