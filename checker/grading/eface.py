"""eFACE (Banks, Bhama, Park, Hadlock and Hadlock, Plast Reconstr Surg 2015;136:223e-230e):
fifteen items graded on visual-analogue scales, in three subscores from 0 to 100 (normal).

One-sided items run from 0 to 100, where 100 is normal. Two-sided items (the face at rest)
run from 0 to 200, where 100 is balanced with the other side and either way from it is
worse: such an item scores 100 - |100 - value|. Each subscore is the mean of its items'
scores. The paper derives a total with the dynamic items weighing twice as much as the
others; its exact formula is not given where we could read it, so no total is shown and
every raw value is kept, for a total to be worked out later.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from .scale import N_, Graded, Item, Scale, Score, Section


def two_sided(item_id: str, label: str, hint: str) -> Item:
    return Item(item_id, label, low=0, high=200, hint=hint, two_sided=True)


def one_sided(item_id: str, label: str, hint: str) -> Item:
    return Item(item_id, label, low=0, high=100, hint=hint)


MOVES = N_("0: no movement; 100: as much as the other side.")
NO_SYNKINESIS = N_("0: severe, disfiguring; 100: none.")

STATIC = Section(
    "static",
    N_("Static (at rest)"),
    (
        two_sided(
            "brow_rest", N_("Brow at rest"), N_("0: much lower; 100: level with the other side; 200: much higher.")
        ),
        two_sided(
            "fissure_rest",
            N_("Palpebral fissure at rest"),
            N_("0: closed; 100: as wide as the other side; 200: much wider."),
        ),
        two_sided(
            "fold_depth_rest",
            N_("Nasolabial fold depth at rest"),
            N_("0: absent; 100: as deep as the other side; 200: much deeper."),
        ),
        two_sided(
            "commissure_rest",
            N_("Oral commissure at rest"),
            N_("0: much lower; 100: level with the other side; 200: much higher."),
        ),
    ),
)

DYNAMIC = Section(
    "dynamic",
    N_("Dynamic (movement)"),
    (
        one_sided("brow_elevation", N_("Brow elevation"), MOVES),
        one_sided("gentle_eye_closure", N_("Gentle eye closure"), N_("0: no closure; 100: closes completely.")),
        one_sided("full_eye_closure", N_("Full eye closure"), N_("0: no closure; 100: closes completely.")),
        one_sided("fold_depth_smile", N_("Nasolabial fold depth with smile"), MOVES),
        one_sided(
            "fold_orientation_smile",
            N_("Nasolabial fold orientation with smile"),
            N_("0: no change of angle; 100: the same angle as the other side."),
        ),
        one_sided("commissure_smile", N_("Oral commissure movement with smile"), MOVES),
        one_sided("lower_lip", N_("Lower lip movement (saying EEEE)"), MOVES),
    ),
)

SYNKINESIS = Section(
    "synkinesis",
    N_("Synkinesis"),
    (
        one_sided("ocular_synkinesis", N_("Ocular synkinesis"), NO_SYNKINESIS),
        one_sided("midfacial_synkinesis", N_("Midfacial synkinesis"), NO_SYNKINESIS),
        one_sided("mentalis_synkinesis", N_("Mentalis synkinesis"), NO_SYNKINESIS),
        one_sided("platysmal_synkinesis", N_("Platysmal synkinesis"), NO_SYNKINESIS),
    ),
)

SECTIONS = (STATIC, DYNAMIC, SYNKINESIS)


def item_score(item: Item, value: int) -> int:
    """An item's score from 0 to 100: a two-sided item loses what it is away from 100."""
    return 100 - abs(100 - value) if item.two_sided else value


def compute(values: Mapping[str, int | str]) -> Graded:
    """Each subscore: the mean of its items' scores, to one decimal place (halves up)."""
    scores: dict[str, int | float] = {}
    for section in SECTIONS:
        total = sum(item_score(item, int(values[item.id])) for item in section.items)
        mean = Decimal(total) / len(section.items)
        scores[section.id] = float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return Graded(scores)


EFACE = Scale(
    id="eface",
    name=N_("eFACE"),
    source="Banks CA, Bhama PK, Park J, Hadlock CR, Hadlock TA. Clinician-graded electronic facial paralysis "
    "assessment: the eFACE. Plast Reconstr Surg 2015;136(2):223e-230e.",
    sections=SECTIONS,
    scores=(
        Score("static", N_("Static"), 0, 100),
        Score("dynamic", N_("Dynamic"), 0, 100),
        Score("synkinesis", N_("Synkinesis"), 0, 100),
    ),
    compute=compute,
    note=N_(
        "No eFACE total is shown: the published paper weighs the dynamic items twice as much as the "
        "others, but we could not read its exact formula. Every raw value is kept, so a total can be "
        "worked out later."
    ),
)
