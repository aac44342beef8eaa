"""The Sunnybrook Facial Grading System (Ross, Fradet and Nedzelski, Otolaryngol Head Neck
Surg 1996;114:380-386): resting symmetry, voluntary movement and synkinesis of the affected
side against the other, and a composite from 0 (no function) to 100 (normal)."""

from __future__ import annotations

from collections.abc import Mapping

from .scale import N_, Choice, Graded, Item, Scale, Score, Section

EXPRESSIONS = (
    ("brow", N_("Forehead wrinkle (brow lift)")),
    ("eye", N_("Gentle eye closure")),
    ("smile", N_("Open-mouth smile")),
    ("snarl", N_("Snarl (lip raise)")),
    ("pucker", N_("Lip pucker")),
)

MOVEMENT = (
    Choice("1", 1, N_("Unable to initiate movement")),
    Choice("2", 2, N_("Initiates slight movement")),
    Choice("3", 3, N_("Initiated movement with mild excursion")),
    Choice("4", 4, N_("Movement almost complete")),
    Choice("5", 5, N_("Movement complete")),
)

SYNKINESIS = (
    Choice("0", 0, N_("None")),
    Choice("1", 1, N_("Mild: slight, with little mass movement")),
    Choice("2", 2, N_("Moderate: obvious but not disfiguring, with some mass movement")),
    Choice("3", 3, N_("Severe: disfiguring, with gross mass movement of several muscles")),
)

RESTING = Section(
    "resting",
    N_("Resting symmetry"),
    (
        Item(
            "rest_eye",
            N_("Eye (palpebral fissure)"),
            (
                Choice("normal", 0, N_("Normal")),
                Choice("narrow", 1, N_("Narrow")),
                Choice("wide", 1, N_("Wide")),
                Choice("eyelid-surgery", 1, N_("Eyelid surgery")),
            ),
        ),
        Item(
            "rest_cheek",
            N_("Cheek (nasolabial fold)"),
            (
                Choice("normal", 0, N_("Normal")),
                Choice("absent", 2, N_("Absent")),
                Choice("less", 1, N_("Less pronounced")),
                Choice("more", 1, N_("More pronounced")),
            ),
        ),
        Item(
            "rest_mouth",
            N_("Mouth"),
            (
                Choice("normal", 0, N_("Normal")),
                Choice("drooped", 1, N_("Corner drooped")),
                Choice("pulled", 1, N_("Corner pulled up or out")),
            ),
        ),
    ),
    N_("The affected side compared with the other, with the face at rest."),
    inline=True,
)

VOLUNTARY = Section(
    "voluntary",
    N_("Symmetry of voluntary movement"),
    tuple(Item(f"move_{key}", label, MOVEMENT) for key, label in EXPRESSIONS),
    N_("How far the affected side moves compared with the other side, for each expression."),
)

SYNKINESIS_SECTION = Section(
    "synkinesis",
    N_("Synkinesis"),
    tuple(Item(f"synk_{key}", label, SYNKINESIS) for key, label in EXPRESSIONS),
    N_("Involuntary contraction of other muscles during each expression."),
)

SECTIONS = (RESTING, VOLUNTARY, SYNKINESIS_SECTION)

FLOORED = N_(
    "The subtraction gave less than 0 (synkinesis graded where there is little voluntary "
    "movement); the composite is shown as 0, the lowest the scale has."
)


def compute(values: Mapping[str, int | str]) -> Graded:
    """Resting = 5 x the resting points (0-20); voluntary = 4 x the movement grades (20-100);
    synkinesis = the synkinesis grades (0-15); composite = voluntary - resting - synkinesis,
    kept within the scale's 0-100."""
    points = {item.id: item.choice(str(values[item.id])).points for section in SECTIONS for item in section.items}
    resting = 5 * sum(points[item.id] for item in RESTING.items)
    voluntary = 4 * sum(points[item.id] for item in VOLUNTARY.items)
    synkinesis = sum(points[item.id] for item in SYNKINESIS_SECTION.items)
    difference = voluntary - resting - synkinesis
    scores: dict[str, int | float] = {
        "resting": resting,
        "voluntary": voluntary,
        "synkinesis": synkinesis,
        "composite": max(0, difference),
    }
    return Graded(scores, (FLOORED,) if difference < 0 else ())


SUNNYBROOK = Scale(
    id="sunnybrook",
    name=N_("Sunnybrook Facial Grading System"),
    source="Ross BG, Fradet G, Nedzelski JM. Development of a sensitive clinical facial grading system. "
    "Otolaryngol Head Neck Surg 1996;114(3):380-386.",
    sections=SECTIONS,
    scores=(
        Score("composite", N_("Composite"), 0, 100),
        Score("voluntary", N_("Voluntary movement"), 20, 100),
        Score("resting", N_("Resting symmetry"), 0, 20, better="lower"),
        Score("synkinesis", N_("Synkinesis"), 0, 15, better="lower"),
    ),
    compute=compute,
    show_points=True,
)
