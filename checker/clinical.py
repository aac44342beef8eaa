"""Clinical wording for staff documents, keyed by the rules' ids.

Patients read the rules' own plain wording; the clinician's summary names the same things
the way a clinician writes them. An id these tables do not know (rules changed since)
falls back to the rules' wording, so nothing is ever left unnamed.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .engine import RuleSet
from .i18n import translate

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
}
