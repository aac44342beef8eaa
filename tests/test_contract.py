"""rules.yaml keeps the public contract of SPEC sections 3 and 4: ids, codes, order."""

from __future__ import annotations

from checker.engine import Kind, RuleSet

YES_NO = ["yes", "no"]
OFTEN = ["never", "sometimes", "often"]
SAQ = [
    "saq_eye_smile", "saq_eye_speak", "saq_eye_pucker", "saq_neck_smile", "saq_face_tight_eyes",
    "saq_mouth_eyes", "saq_neck_eyes", "saq_tears_eating", "saq_chin_dimple",
]  # fmt: skip
CONTRACT: dict[str, list[object] | None] = {
    "rf_stroke_signs": YES_NO,
    "rf_eye": YES_NO,
    "rf_ear_rash": YES_NO,
    "rf_both_sides": YES_NO,
    "rf_progressive": YES_NO,
    "cause": ["bells_palsy", "ramsay_hunt", "surgery", "injury", "other", "unknown", "none"],
    "time_since_onset": ["lt_3d", "3d_3w", "3w_3m", "3m_6m", "6m_12m", "12m_18m", "gt_18m"],
    "initial_severity": ["complete", "partial", "unsure"],
    "recovery": ["none_yet", "some", "mostly", "full"],
    "eye_closure": ["yes", "with_effort", "no"],
    **{item: [1, 2, 3, 4, 5] for item in SAQ},
    "twitching": OFTEN,
    "asymmetry": ["none", "slight", "obvious"],
    "tightness_rest": OFTEN,
    "pattern": ["none", "occasional", "consistent"],
    "daily_impact": ["none", "a_little", "moderate", "a_lot"],
    "treatments": ["facial_therapy", "botulinum_toxin", "surgery", "none"],
    "notes": None,
}


def test_question_ids_and_codes(rules: RuleSet) -> None:
    assert list(rules.questions) == list(CONTRACT)
    for qid, codes in CONTRACT.items():
        question = rules.questions[qid]
        if codes is None:
            assert question.kind is Kind.TEXT
            assert question.max_length == 1000
            assert question.required is False
        else:
            assert sorted(question.codes, key=str) == sorted(codes, key=str), qid


def test_kinds_and_order(rules: RuleSet) -> None:
    assert all(rules.questions[q].kind is Kind.SCALE for q in SAQ)
    assert rules.questions["treatments"].kind is Kind.SEVERAL
    assert rules.questions["treatments"].alone == frozenset({"none"})
    assert list(rules.questions["time_since_onset"].codes) == CONTRACT["time_since_onset"]
    assert rules.questions["time_since_onset"].ordered


def test_safety_page_comes_first_and_cause_stands_alone(rules: RuleSet) -> None:
    assert [q.id for q in rules.pages[0].questions] == list(CONTRACT)[:5]
    assert [q.id for q in rules.pages[1].questions] == ["cause"]


def test_red_flags_outcomes_and_triage(rules: RuleSet) -> None:
    assert [(f.id, f.triage) for f in rules.red_flags] == [
        ("stroke_signs", "emergency"),
        ("recent_onset", "urgent"),
        ("eye_exposure", "urgent"),
        ("ear_rash", "urgent"),
        ("both_sides", "urgent"),
        ("progressive", "prompt"),
        ("no_recovery", "prompt"),
        ("eye_not_closing", "prompt"),
        ("movements_without_palsy", "prompt"),
    ]
    assert [t.id for t in rules.triage_levels] == ["emergency", "urgent", "prompt", "routine"]
    assert [r.outcome for r in rules.outcome_rules] == [
        "not-indicated", "stage-4", "stage-3", "stage-2", "stage-1", "stage-1", "not-indicated", "not-indicated",
    ]  # fmt: skip
    names = {o.id: o.name for o in rules.outcomes.values()}
    assert names == {
        "stage-1": "Nerve injury and recovery",
        "stage-2": "Early signs",
        "stage-3": "Established synkinesis",
        "stage-4": "Long-term management",
        "not-indicated": "Synkinesis not suggested",
    }
