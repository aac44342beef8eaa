"""A broken rules file is reported as PATH:LINE:COLUMN: message, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from checker import create_app
from checker.cli import rules_group
from checker.config import StartupError
from checker.engine import RulesError, load_rules, load_rules_text

from .conftest import RULES_PATH

SOURCE = RULES_PATH.read_text(encoding="utf-8")


def position(text: str, fragment: str, offset: int = 0) -> str:
    """'LINE:COLUMN' of the first occurrence of ``fragment`` (plus ``offset`` characters)."""
    index = text.index(fragment) + offset
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules_text(text, "rules.yaml")
    return [str(p) for p in caught.value.problems]


def changed(old: str, new: str, count: int = 1) -> str:
    assert old in SOURCE, old
    return SOURCE.replace(old, new, count)


def test_the_shipped_rules_load() -> None:
    rules = load_rules(RULES_PATH)
    assert rules.version == "2026.2"
    assert len(rules.sha256) == 64


def test_misspelt_question_id_suggests_the_right_one() -> None:
    text = changed('when: {answer: rf_eye, is: "yes"}', 'when: {answer: rf_eyes, is: "yes"}')
    at = position(text, "rf_eyes")
    assert problems_of(text) == [
        f"rules.yaml:{at}: red_flags[2].when.answer: unknown question 'rf_eyes' (did you mean 'rf_eye'?)"
    ]


def test_misspelt_code_suggests_the_right_one() -> None:
    text = changed("is: consistent", "is: consistant")
    at = position(text, "consistant")
    assert problems_of(text) == [
        f"rules.yaml:{at}: outcome_rules[2].when.all[1].any[1].is: 'consistant' is not a code of 'pattern' "
        "(did you mean 'consistent'?)"
    ]


def test_misspelt_key_and_operator() -> None:
    text = changed('    title: "Safety check"', '    titel: "Safety check"')
    text = text.replace("{answer: time_since_onset, at_least: 6m_12m}", "{answer: time_since_onset, atleast: 6m_12m}")
    assert problems_of(text) == [
        f"rules.yaml:{position(text, 'id: safety')}: pages[0]: missing key 'title'",
        f"rules.yaml:{position(text, 'titel')}: pages[0].titel: unknown key 'titel' (did you mean 'title'?)",
        f"rules.yaml:{position(text, 'atleast')}: derived[4].when.atleast: unknown operator 'atleast' "
        "(did you mean 'at_least'?)",
    ]


def test_unquoted_yes_is_caught() -> None:
    text = changed('when: {answer: rf_eye, is: "yes"}', "when: {answer: rf_eye, is: yes}")
    at = position(text, "is: yes}", 4)
    assert problems_of(text) == [
        f"rules.yaml:{at}: red_flags[2].when.is: unquoted yes is read by YAML as true/false: "
        'write "yes" in quotes for the answer code, or true/false for a flag'
    ]


def test_duplicate_keys_are_caught() -> None:
    text = changed('version: "2026.2"', 'version: "2026.2"\nversion: "2026.3"')
    line = int(position(text, 'version: "2026.3"').split(":")[0])
    assert problems_of(text) == [f"rules.yaml:{line}:1: duplicate key 'version' (first given at line {line - 1})"]


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = changed('when: {answer: rf_eye, is: "yes"}', 'when: {answer: rf_eyes, is: "yes"}')
    text = text.replace("is: consistent", "is: consistant").replace("triage: prompt\n", "triage: promt\n", 1)
    found = problems_of(text)
    assert len(found) == 3
    assert [p.split(": ", 1)[1].split(":")[0] for p in found] == [
        "red_flags[2].when.answer",
        "red_flags[5].triage",
        "outcome_rules[2].when.all[1].any[1].is",
    ]
    assert "unknown triage level 'promt' (did you mean 'prompt'?)" in found[1]


def test_yaml_syntax_error_has_a_position() -> None:
    text = changed("  - id: safety", "  - id: safety\n   bad: [")
    found = problems_of(text)
    assert len(found) == 1
    assert found[0].startswith(f"rules.yaml:{int(position(text, 'bad: [').split(':')[0])}:")
    assert "YAML syntax" in found[0]


def test_a_threshold_change_needs_no_code() -> None:
    """Raising 'frequent' from 4 to 5 changes the engine's answer, with only the file edited."""
    text = changed("count: saq\n    at_least: 4", "count: saq\n    at_least: 5")
    text = text[: text.index("\ncases:")]  # the worked cases were written for the old threshold
    from checker.engine import assess

    answers = {
        "rf_stroke_signs": "no",
        "rf_eye": "no",
        "rf_ear_rash": "no",
        "rf_both_sides": "no",
        "rf_progressive": "no",
        "cause": "bells_palsy",
        "time_since_onset": "6m_12m",
        "initial_severity": "partial",
        "recovery": "mostly",
        "eye_closure": "yes",
        **{
            q: 1
            for q in (
                "saq_eye_speak",
                "saq_eye_pucker",
                "saq_neck_smile",
                "saq_face_tight_eyes",
                "saq_mouth_eyes",
                "saq_neck_eyes",
                "saq_tears_eating",
                "saq_chin_dimple",
            )
        },
        "saq_eye_smile": 4,
        "twitching": "never",
        "asymmetry": "none",
        "tightness_rest": "never",
        "pattern": "occasional",
        "daily_impact": "a_little",
        "treatments": ["none"],
    }
    assert assess(load_rules(RULES_PATH), answers).outcome == "stage-3"
    assert assess(load_rules_text(text), answers).outcome == "stage-2"


def test_a_failing_worked_case_is_a_problem() -> None:
    text = changed(
        "expect: {outcome: stage-3, triage: routine, red_flags: [], saq_total: 44.4}",
        "expect: {outcome: stage-2, triage: routine, red_flags: [], saq_total: 44.4}",
    )
    line = position(text, "- name: nine-months-established").split(":")[0]
    index = next(i for i, c in enumerate(load_rules(RULES_PATH).cases) if c.name == "nine-months-established")
    assert problems_of(text) == [
        f"rules.yaml:{line}:1: cases[{index}] 'nine-months-established': expected outcome 'stage-2', got 'stage-3'"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    otherwise: true",
            "    when: {answer: cause, is: none}",
            "the last outcome rule must be 'otherwise: true', so every set of answers has an outcome",
        ),
        (
            "ask_when: {answer: cause, is_not: none}",
            "ask_when: {answer: pattern, is_not: none}",
            "'pattern' is not asked before this page, so it cannot decide whether the page is asked",
        ),
        (
            'when: {answer: rf_eye, is: "yes"}',
            'when: {answer: notes, is: "yes"}',
            "'notes' is free text and cannot be used in a rule",
        ),
        (
            'reason: "You have already had {treatments}, and the weakness started {time_since_onset}."',
            'reason: "You have already had {treatment}, and the weakness started {time_since_onset}."',
            "unknown placeholder '{treatment}' (did you mean 'treatments'?)",
        ),
        (
            "{value: other_signs, is: true}",
            "{value: other_signs, is: 1}",
            "'other_signs' is true or false, so compare it with true or false",
        ),
        (
            'when: {answer: rf_stroke_signs, is: "yes"}',
            "when: {value: six_months_plus, is: true}",
            "a red flag that stops the questionnaire can only read answers, and 'six_months_plus' is a derived value "
            "(it may need pages that were never asked)",
        ),
        (
            "score: saq_total",
            "score: linked_present",
            "'linked_present' is not a percent_of_maximum derived value (expected one of: saq_total)",
        ),
        (
            "type: scale\n        options: linked_movement",
            "type: scale\n        options: yes_no",
            "option code 'yes' must be a whole number for a scale question",
        ),
    ],
)
def test_structural_mistakes(old: str, new: str, message: str) -> None:
    found = problems_of(changed(old, new))
    assert any(p.endswith(message) for p in found), found


def test_empty_and_non_mapping_files() -> None:
    assert problems_of("") == ["rules.yaml:1:1: the rules file is empty"]
    assert problems_of("- a\n- b\n") == ["rules.yaml:1:1: expected a mapping of keys to values"]


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"version: '1'\n\xff\xfe")
    with pytest.raises(RulesError, match=r"binary.yaml:2:1: the rules file is not UTF-8 text"):
        load_rules(binary)


def test_broken_rules_stop_the_app(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(changed("is: consistent", "is: consistant"), encoding="utf-8")
    with pytest.raises(StartupError) as caught:
        create_app({"SECRET_KEY": "x", "RULES_PATH": str(broken)})
    assert "(did you mean 'consistent'?)" in caught.value.message


def test_rules_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(rules_group, ["check", str(RULES_PATH)])
    assert ok.exit_code == 0
    assert "OK: version 2026.2" in ok.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(changed("is: consistent", "is: consistant"), encoding="utf-8")
    bad = runner.invoke(rules_group, ["check", str(broken)])
    assert bad.exit_code == 1
    assert f"{broken}:{position(broken.read_text(), 'consistant')}: " in bad.output
