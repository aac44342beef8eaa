"""The House–Brackmann facial nerve grading system (House and Brackmann, Otolaryngol Head
Neck Surg 1985;93:146-147): one grade from I (normal) to VI (total paralysis), chosen by the
clinician from the descriptors of each grade."""

from __future__ import annotations

from collections.abc import Mapping

from .scale import N_, Choice, Graded, Item, Scale, Score, Section

GROSS, REST, FOREHEAD, EYE, MOUTH = N_("Overall"), N_("At rest"), N_("Forehead"), N_("Eye"), N_("Mouth")

GRADES = (
    Choice("I", 1, N_("I: Normal"), ((GROSS, N_("Normal facial function in all areas.")),)),
    Choice(
        "II",
        2,
        N_("II: Mild dysfunction"),
        (
            (GROSS, N_("Slight weakness seen on close inspection; there may be very slight synkinesis.")),
            (REST, N_("Symmetry and tone normal.")),
            (FOREHEAD, N_("Moderate to good movement.")),
            (EYE, N_("Closes completely with little effort.")),
            (MOUTH, N_("Slightly uneven.")),
        ),
    ),
    Choice(
        "III",
        3,
        N_("III: Moderate dysfunction"),
        (
            (
                GROSS,
                N_(
                    "An obvious but not disfiguring difference between the sides; synkinesis, "
                    "contracture or hemifacial spasm noticeable but not severe."
                ),
            ),
            (REST, N_("Symmetry and tone normal.")),
            (FOREHEAD, N_("Slight to moderate movement.")),
            (EYE, N_("Closes completely with effort.")),
            (MOUTH, N_("Slightly weak with the most effort.")),
        ),
    ),
    Choice(
        "IV",
        4,
        N_("IV: Moderately severe dysfunction"),
        (
            (GROSS, N_("Obvious weakness, or asymmetry that disfigures, or both.")),
            (REST, N_("Symmetry and tone normal.")),
            (FOREHEAD, N_("No movement.")),
            (EYE, N_("Does not close completely.")),
            (MOUTH, N_("Uneven with the most effort.")),
        ),
    ),
    Choice(
        "V",
        5,
        N_("V: Severe dysfunction"),
        (
            (GROSS, N_("Movement barely perceptible.")),
            (REST, N_("Asymmetric.")),
            (FOREHEAD, N_("No movement.")),
            (EYE, N_("Does not close completely.")),
            (MOUTH, N_("Slight movement.")),
        ),
    ),
    Choice("VI", 6, N_("VI: Total paralysis"), ((GROSS, N_("No movement.")),)),
)

SECTIONS = (
    Section(
        "grade",
        N_("Grade"),
        (Item("grade", N_("House–Brackmann grade"), GRADES),),
        N_("Choose the grade whose description fits best."),
    ),
)


def compute(values: Mapping[str, int | str]) -> Graded:
    """The grade as a number, 1 (I) to 6 (VI)."""
    return Graded({"grade": SECTIONS[0].items[0].choice(str(values["grade"])).points})


HOUSE_BRACKMANN = Scale(
    id="house-brackmann",
    name=N_("House–Brackmann"),
    source="House JW, Brackmann DE. Facial nerve grading system. Otolaryngol Head Neck Surg 1985;93(2):146-147.",
    sections=SECTIONS,
    scores=(Score("grade", N_("Grade"), 1, 6, better="lower"),),
    compute=compute,
)
