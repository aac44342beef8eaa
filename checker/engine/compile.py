"""Turn the nodes of a rules file into an immutable :class:`RuleSet`.

Every problem is collected with its position (nothing stops at the first), so a
clinician editing ``rules.yaml`` sees the whole list at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import Any, cast

from .conditions import All, Any_, Condition, Leaf, Not
from .load import Node
from .model import (
    Code,
    Derived,
    Kind,
    Option,
    Outcome,
    OutcomeRule,
    Page,
    Question,
    RedFlag,
    RuleSet,
    TriageLevel,
    WorkedCase,
)
from .problems import Problem, RulesError, did_you_mean, did_you_mean_or_list

_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EXPECT_KEYS = ("outcome", "triage", "red_flags", "saq_total")

TOP_LEVEL = {
    "version": True,
    "option_sets": False,
    "pages": True,
    "groups": False,
    "derived": False,
    "score": True,
    "triage_levels": True,
    "red_flags": True,
    "outcomes": True,
    "outcome_rules": True,
    "cases": False,
}


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.questions: dict[str, Question] = {}
        self.question_at: dict[str, Node] = {}
        self.page_of: dict[str, int] = {}
        self.groups: dict[str, tuple[str, ...]] = {}
        self.derived: dict[str, Derived] = {}
        self.option_sets: dict[str, tuple[Option, ...]] = {}
        self.clinician_reasons: dict[str, str] = {}  # reason template to its clinical wording
        self.broken: set[str] = set()  # ids defined with errors: already reported, not "unknown"

    # -- small readers ---------------------------------------------------------------

    def problem(self, node: Node, message: str) -> None:
        where = f"{node.path}: " if node.path else ""
        self.problems.append(node.at.problem(where + message))

    def fields(self, node: Node, required: Iterable[str], optional: Iterable[str] = ()) -> dict[str, Node] | None:
        """The keys of a mapping, after reporting unknown and missing ones."""
        if not isinstance(node.value, dict):
            self.problem(node, "expected a mapping of keys to values")
            return None
        required, optional = list(required), list(optional)
        allowed = required + optional
        for key in node.value:
            if key not in allowed:
                hint = did_you_mean_or_list(key, allowed)
                self.problems.append(node.key_at[key].problem(f"{node.child_path(key)}: unknown key '{key}'{hint}"))
        for key in required:
            if key not in node.value:
                self.problem(node, f"missing key '{key}'")
        return {k: v for k, v in node.value.items() if k in allowed}

    def text(self, node: Node | None) -> str | None:
        if node is None:
            return None
        if not isinstance(node.value, str) or not node.value.strip():
            self.problem(node, "expected some text")
            return None
        return " ".join(node.value.split()) if "\n" not in node.value.strip() else node.value.strip()

    def ident(self, node: Node | None) -> str | None:
        if node is None:
            return None
        if not isinstance(node.value, str) or not _ID.match(node.value):
            self.problem(node, f"expected an id of lower-case letters, digits, _ or -, got {node.value!r}")
            return None
        return node.value

    def items(self, node: Node | None, what: str = "a list") -> list[Node]:
        if node is None:
            return []
        if not isinstance(node.value, list):
            self.problem(node, f"expected {what}")
            return []
        return node.value

    def flag(self, node: Node | None, default: bool) -> bool:
        if node is None:
            return default
        if not isinstance(node.value, bool):
            self.problem(node, "expected true or false")
            return default
        return node.value

    def integer(self, node: Node | None, default: int, minimum: int = 0) -> int:
        if node is None:
            return default
        if isinstance(node.value, bool) or not isinstance(node.value, int) or node.value < minimum:
            self.problem(node, f"expected a whole number of at least {minimum}")
            return default
        return node.value

    def unique(self, node: Node, value: str, seen: dict[str, Node], what: str) -> bool:
        if value in seen:
            self.problem(node, f"{what} '{value}' is already defined at line {seen[value].at.line}")
            return False
        seen[value] = node
        return True

    # -- questions and pages ---------------------------------------------------------

    def option_list(self, node: Node, kind: Kind | None) -> tuple[Option, ...]:
        if isinstance(node.value, str):
            if node.value not in self.option_sets:
                self.problem(node, f"unknown option set '{node.value}'{did_you_mean(node.value, self.option_sets)}")
                return ()
            options = self.option_sets[node.value]
        else:
            read = [self.option(item) for item in self.items(node, "a list of options or the name of an option set")]
            options = tuple(o for o in read if o is not None)
        if kind is not None:
            want = int if kind is Kind.SCALE else str
            for option in options:
                if type(option.code) is not want:
                    self.problem(
                        node,
                        f"option code {option.code!r} must be {'a whole number' if want is int else 'text'} "
                        f"for a {kind.value} question",
                    )
                    break
        seen: set[Code] = set()
        for option in options:
            if option.code in seen:
                self.problem(node, f"option code {option.code!r} is listed twice")
            seen.add(option.code)
        return options

    def option(self, node: Node) -> Option | None:
        f = self.fields(node, ["code", "label"], ["hint", "phrase", "clinician"])
        if f is None or "code" not in f:
            return None
        code = f["code"].value
        if isinstance(code, bool) or not isinstance(code, (str, int)):
            self.problem(f["code"], "an option code must be text or a whole number")
            return None
        label, hint, phrase = (self.text(f.get(key)) for key in ("label", "hint", "phrase"))
        return Option(code, label or str(code), hint, phrase, self.text(f.get("clinician")))

    def question(self, node: Node, page_id: str, page_index: int) -> Question | None:
        f = self.fields(
            node,
            ["id", "type", "text"],
            ["hint", "options", "required", "ordered", "alone", "max_length", "phrase", "points", "clinician"],
        )
        if f is None:
            return None
        qid = self.ident(f.get("id"))
        kind = None
        if "type" in f:
            try:
                kind = Kind(f["type"].value)
            except ValueError:
                names = [k.value for k in Kind]
                self.problem(
                    f["type"],
                    f"unknown question type {f['type'].value!r}{did_you_mean_or_list(f['type'].value, names)}",
                )
        options: tuple[Option, ...] = ()
        if kind is Kind.TEXT:
            if "options" in f:
                self.problem(f["options"], "a text question has no options")
        elif kind is not None:
            if "options" not in f:
                self.problem(node, f"a {kind.value} question needs 'options'")
            else:
                options = self.option_list(f["options"], kind)
        alone: set[Code] = set()
        for item in self.items(f.get("alone")):
            if item.value not in {o.code for o in options}:
                self.problem(
                    item,
                    f"'{item.value}' is not one of this question's codes"
                    + did_you_mean(item.value, [str(o.code) for o in options]),
                )
            else:
                alone.add(item.value)  # type: ignore[arg-type]
        if "alone" in f and kind is not Kind.SEVERAL:
            self.problem(f["alone"], "'alone' only applies to a question of type several")
        ordered = self.flag(f.get("ordered"), kind is Kind.SCALE)
        max_length = self.integer(f.get("max_length"), 0, 1) or None
        if qid is None or kind is None:
            return None
        points = tuple(t for t in (self.text(p) for p in self.items(f.get("points"))) if t)
        question = Question(
            id=qid,
            kind=kind,
            text=self.text(f.get("text")) or qid,
            page=page_id,
            options=options,
            hint=self.text(f.get("hint")),
            required=self.flag(f.get("required"), True),
            ordered=ordered,
            alone=frozenset(alone),
            max_length=max_length,
            phrase=self.text(f.get("phrase")),
            points=points,
            clinician=self.text(f.get("clinician")),
        )
        if self.unique(f["id"], qid, self.question_at, "question"):
            self.questions[qid] = question
            self.page_of[qid] = page_index
        return question

    def pages(self, node: Node) -> tuple[Page, ...]:
        pages: list[Page] = []
        seen: dict[str, Node] = {}
        for index, item in enumerate(self.items(node, "a list of pages")):
            f = self.fields(item, ["id", "title", "questions"], ["intro", "ask_when"])
            if f is None:
                continue
            page_id = self.ident(f.get("id")) or f"page-{index + 1}"
            if "id" in f:
                self.unique(f["id"], page_id, seen, "page")
            questions = [
                self.question(q, page_id, index) for q in self.items(f.get("questions"), "a list of questions")
            ]
            if "questions" in f and not questions:
                self.problem(f["questions"], "a page needs at least one question")
            pages.append(
                Page(
                    page_id,
                    self.text(f.get("title")) or page_id,
                    tuple(q for q in questions if q),
                    self.text(f.get("intro")),
                    None,
                )
            )
        # Skip conditions are compiled once every question is known.
        for index, item in enumerate(self.items(node)):
            when = item.value.get("ask_when") if isinstance(item.value, dict) else None
            if when is None or index >= len(pages):
                continue
            condition = self.condition(when)
            if condition is not None:
                for subject in sorted(condition.subjects()):
                    if subject not in self.questions:
                        self.problem(
                            when, f"a page can only be skipped on answers to questions, and '{subject}' is not one"
                        )
                    elif self.page_of[subject] >= index:
                        self.problem(
                            when,
                            f"'{subject}' is not asked before this page, so it cannot decide whether the page is asked",
                        )
            page = pages[index]
            pages[index] = Page(page.id, page.title, page.questions, page.intro, condition)
        return tuple(pages)

    # -- conditions --------------------------------------------------------------------

    def condition(self, node: Node) -> Condition | None:
        if not isinstance(node.value, dict):
            self.problem(node, "expected a condition: a mapping with answer, value, all, any or not")
            return None
        keys = set(node.value)
        reason = self.reason(node.value.get("reason"), node.value.get("clinician"), node)
        combiners = keys & {"all", "any", "not"}
        if combiners:
            word = sorted(combiners)[0]
            extra = keys - {word, "reason", "clinician"}
            if extra:
                self.problem(node, f"'{word}' cannot be combined with {', '.join(sorted(extra))} in one condition")
            part = node.value[word]
            if word == "not":
                inner = self.condition(part)
                return Not(inner, node.plain(), reason) if inner else None
            parts = [self.condition(p) for p in self.items(part, f"a list of conditions under '{word}'")]
            if isinstance(part.value, list) and not parts:
                self.problem(part, f"'{word}' needs at least one condition")
            if any(p is None for p in parts) or not parts:
                return None
            cls = All if word == "all" else Any_
            return cls(tuple(p for p in parts if p), node.plain(), reason)
        if "answer" in keys:
            return self.answer_leaf(node, reason)
        if "value" in keys:
            return self.value_leaf(node, reason)
        guess = did_you_mean(
            next(iter(sorted(keys - {"reason", "clinician"})), ""), ["answer", "value", "all", "any", "not"]
        )
        self.problem(node, f"a condition needs one of: answer, value, all, any, not{guess}")
        return None

    def operator(self, node: Node, allowed: list[str], subject: str) -> tuple[str, Node] | None:
        keys = cast(dict[str, Node], node.value)
        ops = [k for k in keys if k not in (subject, "reason", "clinician")]
        if len(ops) != 1 or ops[0] not in allowed:
            unknown = [k for k in ops if k not in allowed]
            if unknown:
                key = unknown[0]
                self.problems.append(
                    node.key_at[key].problem(
                        f"{node.child_path(key)}: unknown operator '{key}'{did_you_mean_or_list(key, allowed)}"
                    )
                )
            else:
                self.problem(node, f"expected exactly one operator of: {', '.join(allowed)}")
            return None
        return ops[0], keys[ops[0]]

    def answer_leaf(self, node: Node, reason: str | None) -> Condition | None:
        subject_node = cast(dict[str, Node], node.value)["answer"]
        qid = subject_node.value
        question = self.questions.get(qid) if isinstance(qid, str) else None
        if question is None or not isinstance(qid, str):
            self.problem(subject_node, f"unknown question '{qid}'{did_you_mean(qid, self.questions)}")
            return None
        if question.kind is Kind.TEXT:
            self.problem(subject_node, f"'{qid}' is free text and cannot be used in a rule")
            return None
        if question.kind is Kind.SEVERAL:
            allowed = ["includes", "includes_any", "excludes"]
        else:
            allowed = ["is", "is_not", "in", "not_in"] + (["at_least", "at_most"] if question.ordered else [])
        found = self.operator(node, allowed, "answer")
        if found is None:
            return None
        op, operand = found
        plural = op in ("in", "not_in", "includes_any")
        read = [self.code(item, question) for item in (self.items(operand, "a list of codes") if plural else [operand])]
        codes = [c for c in read if c is not None]
        if not codes or len(codes) != len(read):
            return None
        rank = {o.code: i for i, o in enumerate(question.options)}
        first = codes[0]
        check: Callable[[Any], bool]
        if op == "is":
            check = first.__eq__
        elif op == "is_not":
            check = first.__ne__
        elif op in ("in", "not_in"):
            members = frozenset(codes)
            check = members.__contains__ if op == "in" else (lambda v: v not in members)
        elif op == "at_least":
            bound = rank[first]
            check = lambda v: rank.get(v, -1) >= bound  # noqa: E731
        elif op == "at_most":
            bound = rank[first]
            check = lambda v: 0 <= rank.get(v, -1) <= bound  # noqa: E731
        elif op == "includes":
            check = lambda v: first in v  # noqa: E731
        elif op == "includes_any":
            wanted = frozenset(codes)
            check = lambda v: not wanted.isdisjoint(v)  # noqa: E731
        else:  # excludes
            check = lambda v: first not in v  # noqa: E731
        shown = ", ".join(str(c) for c in codes)
        description = f"{qid} {op.replace('_', ' ')} {'[' + shown + ']' if plural else shown}"
        return Leaf(qid, description, check, node.plain(), reason)

    def code(self, node: Node, question: Question) -> Code | None:
        value = node.value
        if isinstance(value, (str, int)) and value in question.codes and type(value) is type(question.codes[0]):
            return value
        shown = [str(c) for c in question.codes]
        hint = did_you_mean_or_list(str(node.value), shown)
        self.problem(node, f"{node.value!r} is not a code of '{question.id}'{hint}")
        return None

    def value_leaf(self, node: Node, reason: str | None) -> Condition | None:
        subject_node = cast(dict[str, Node], node.value)["value"]
        did = subject_node.value
        derived = self.derived.get(did) if isinstance(did, str) else None
        if derived is None and did in self.broken:
            return None
        if derived is None or not isinstance(did, str):
            known = list(self.derived)
            hint = did_you_mean(did, known)
            if isinstance(did, str) and did in self.questions:
                hint = f" ('{did}' is a question: write 'answer: {did}')"
            self.problem(subject_node, f"unknown derived value '{did}'{hint}")
            return None
        if derived.kind == "condition":
            found = self.operator(node, ["is"], "value")
            if found is None:
                return None
            op, operand = found
            if not isinstance(operand.value, bool):
                self.problem(operand, f"'{did}' is true or false, so compare it with true or false")
                return None
            expected = operand.value
            return Leaf(did, f"{did} is {str(expected).lower()}", lambda v: v is expected, node.plain(), reason)
        found = self.operator(node, ["is", "at_least", "at_most"], "value")
        if found is None:
            return None
        op, operand = found
        number = operand.value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            self.problem(operand, f"'{did}' is a number, so compare it with a number")
            return None
        check = {"is": number.__eq__, "at_least": number.__le__, "at_most": number.__ge__}[op]
        return Leaf(did, f"{did} {op.replace('_', ' ')} {number}", check, node.plain(), reason)

    def reason(self, reason_node: Node | None, clinician_node: Node | None, owner: Node) -> str | None:
        """A reason's text, its placeholders checked; its clinical wording (``clinician:``, beside it)
        kept for staff documents, with no placeholder the reason does not fill."""
        reason = self.text(reason_node)
        if reason is not None and reason_node is not None:
            self.placeholders(reason_node, reason)
        clinician = self.text(clinician_node)
        if clinician is None or clinician_node is None:
            return reason
        if reason is None:
            self.problem(owner, "'clinician' is the clinical wording of a 'reason' beside it, and there is none")
            return reason
        for name in sorted(set(_PLACEHOLDER.findall(clinician)) - set(_PLACEHOLDER.findall(reason))):
            self.problem(clinician_node, f"'{{{name}}}' is not in the reason beside it, so nothing would fill it")
        self.clinician_reasons[reason] = clinician
        return reason

    def placeholders(self, node: Node, text: str) -> None:
        for name in _PLACEHOLDER.findall(text):
            base, _, part = name.partition(".")
            if base in self.questions and not part:
                if self.questions[base].kind is Kind.TEXT:
                    self.problem(node, f"'{{{name}}}' is free text and cannot be quoted in a reason")
                continue
            if base in self.derived and (not part or (part == "items" and self.derived[base].kind == "count")):
                continue
            names = (
                list(self.questions)
                + list(self.derived)
                + [f"{d}.items" for d, v in self.derived.items() if v.kind == "count"]
            )
            self.problem(node, f"unknown placeholder '{{{name}}}'{did_you_mean(name, names)}")

    # -- derived values, triage, red flags, outcomes -------------------------------------

    def read_groups(self, node: Node | None) -> None:
        if node is None:
            return
        if not isinstance(node.value, dict):
            self.problem(node, "expected a mapping of group names to lists of question ids")
            return
        for name, members in node.value.items():
            ids: list[str] = []
            for item in self.items(members, "a list of question ids"):
                question = self.questions.get(item.value) if isinstance(item.value, str) else None
                if question is None:
                    self.problem(item, f"unknown question '{item.value}'{did_you_mean(item.value, self.questions)}")
                elif question.kind is not Kind.SCALE:
                    self.problem(item, f"'{item.value}' is not a scale question, so it cannot be scored or counted")
                else:
                    ids.append(question.id)
            self.groups[name] = tuple(ids)

    def group(self, node: Node) -> tuple[str, ...]:
        if not isinstance(node.value, str) or node.value not in self.groups:
            self.problem(node, f"unknown group '{node.value}'{did_you_mean(node.value, self.groups)}")
            return ()
        return self.groups[node.value]

    def read_derived(self, node: Node | None) -> None:
        seen: dict[str, Node] = {}
        for item in self.items(node, "a list of derived values"):
            f = self.fields(item, ["id", "label"], ["percent_of_maximum", "count", "at_least", "decimals", "when"])
            if f is None:
                continue
            did = self.ident(f.get("id"))
            kinds = [k for k in ("percent_of_maximum", "count", "when") if k in f]
            if len(kinds) != 1:
                self.problem(item, "a derived value needs exactly one of: percent_of_maximum, count, when")
                continue
            if did is None or not self.unique(f["id"], did, seen, "derived value"):
                continue
            if did in self.questions:
                self.problem(f["id"], f"'{did}' is already a question id")
                continue
            label = self.text(f.get("label")) or did
            kind = kinds[0]
            if kind == "percent_of_maximum":
                group = self.group(f[kind])
                top = sum(max((c for c in self.questions[q].codes if isinstance(c, int)), default=0) for q in group)
                if group and top <= 0:
                    self.problem(f[kind], "a score needs answers with whole numbers above 0")
                    continue
                derived = Derived(did, kind, label, group, top=top, decimals=self.integer(f.get("decimals"), 1))
            elif kind == "count":
                if "at_least" not in f:
                    self.problem(item, "a count needs 'at_least': the smallest answer that counts")
                derived = Derived(did, kind, label, self.group(f[kind]), at_least=self.integer(f.get("at_least"), 1, 1))
            else:
                when = self.condition(f["when"])
                if when is None:
                    self.broken.add(did)
                    continue
                derived = Derived(did, "condition", label, when=when)
            for extra in ("at_least", "decimals"):
                if extra in f and (kind, extra) not in {("count", "at_least"), ("percent_of_maximum", "decimals")}:
                    self.problem(f[extra], f"'{extra}' does not apply to this kind of derived value")
            self.derived[did] = derived

    def triage_levels(self, node: Node) -> tuple[TriageLevel, ...]:
        levels: list[TriageLevel] = []
        seen: dict[str, Node] = {}
        for item in self.items(node, "a list of triage levels, most severe first"):
            f = self.fields(item, ["id", "name"], ["stops_questionnaire", "interrupts", "advice", "clinician"])
            if f is None:
                continue
            lid = self.ident(f.get("id"))
            if lid and self.unique(f["id"], lid, seen, "triage level"):
                name = self.text(f.get("name")) or lid
                stops = self.flag(f.get("stops_questionnaire"), False)
                interrupts = self.flag(f.get("interrupts"), False)
                if stops and interrupts:
                    self.problem(f["interrupts"], "a level that stops the questionnaire cannot also let it continue")
                advice = self.text(f.get("advice")) or ""
                levels.append(TriageLevel(lid, name, stops, advice, interrupts, self.text(f.get("clinician"))))
        if isinstance(node.value, list) and len(levels) < 2:
            self.problem(node, "list at least two triage levels: the last applies when no red flag is present")
        elif levels and (levels[-1].stops or levels[-1].interrupts):
            self.problem(
                node,
                "the last triage level applies when no red flag is present, so it cannot stop or interrupt the "
                "questionnaire",
            )
        return tuple(levels)

    def red_flags(self, node: Node, levels: tuple[TriageLevel, ...]) -> tuple[RedFlag, ...]:
        flags: list[RedFlag] = []
        seen: dict[str, Node] = {}
        level_ids = [level.id for level in levels]
        for item in self.items(node, "a list of red flags"):
            f = self.fields(item, ["id", "triage", "name", "advice", "when"], ["clinician"])
            if f is None:
                continue
            fid = self.ident(f.get("id"))
            triage = f.get("triage")
            if triage is not None and triage.value not in level_ids:
                self.problem(triage, f"unknown triage level '{triage.value}'{did_you_mean(triage.value, level_ids)}")
                triage = None
            elif triage is not None and levels and triage.value == levels[-1].id:
                self.problem(triage, f"'{triage.value}' is the level for no red flag")
            when = self.condition(f["when"]) if "when" in f else None
            stops = triage is not None and any(lv.stops for lv in levels if lv.id == triage.value)
            derived = sorted(s for s in (when.subjects() if when else ()) if s not in self.questions)
            if stops and derived:
                self.problem(
                    f["when"],
                    f"a red flag that stops the questionnaire can only read answers, and '{derived[0]}' is a derived "
                    "value (it may need pages that were never asked)",
                )
                continue
            if fid and self.unique(f["id"], fid, seen, "red flag") and triage and when:
                name, advice = self.text(f.get("name")) or fid, self.text(f.get("advice")) or ""
                flags.append(RedFlag(fid, str(triage.value), name, advice, when, self.text(f.get("clinician"))))
        return tuple(flags)

    def outcomes(self, node: Node) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        seen: dict[str, Node] = {}
        for item in self.items(node, "a list of outcomes"):
            f = self.fields(item, ["id", "name", "summary"], ["clinician"])
            if f is None:
                continue
            oid = self.ident(f.get("id"))
            if oid and self.unique(f["id"], oid, seen, "outcome"):
                name, summary = self.text(f.get("name")) or oid, self.text(f.get("summary")) or ""
                outcomes[oid] = Outcome(oid, name, summary, self.text(f.get("clinician")))
        return outcomes

    def outcome_rules(self, node: Node, outcomes: dict[str, Outcome]) -> tuple[OutcomeRule, ...]:
        rules: list[OutcomeRule] = []
        items = self.items(node, "a list of outcome rules, the first that holds decides")
        for index, item in enumerate(items):
            f = self.fields(item, ["outcome", "reason", "describe"], ["when", "otherwise", "clinician"])
            if f is None:
                continue
            target = f.get("outcome")
            if target is not None and target.value not in outcomes:
                self.problem(target, f"unknown outcome '{target.value}'{did_you_mean(target.value, outcomes)}")
            reason = self.reason(f.get("reason"), f.get("clinician"), item)
            last = index == len(items) - 1
            if ("when" in f) == ("otherwise" in f):
                self.problem(item, "an outcome rule needs either 'when' or 'otherwise: true'")
                continue
            if "otherwise" in f:
                if f["otherwise"].value is not True:
                    self.problem(f["otherwise"], "write 'otherwise: true'")
                if not last:
                    self.problem(
                        f["otherwise"],
                        "'otherwise' must be the last outcome rule: the rules after it could never apply",
                    )
                when: Condition | None = All((), {"otherwise": True}, None)
            else:
                when = self.condition(f["when"])
            if when is not None and target is not None and reason is not None and target.value in outcomes:
                rules.append(OutcomeRule(str(target.value), when, reason, self.text(f.get("describe")) or ""))
        if items and isinstance(items[-1].value, dict) and "otherwise" not in items[-1].value:
            self.problem(
                items[-1], "the last outcome rule must be 'otherwise: true', so every set of answers has an outcome"
            )
        return tuple(rules)

    def cases(self, node: Node | None) -> tuple[WorkedCase, ...]:
        cases: list[WorkedCase] = []
        by_name: dict[str, WorkedCase] = {}
        seen: dict[str, Node] = {}
        for item in self.items(node, "a list of worked cases"):
            f = self.fields(item, ["name", "expect"], ["story", "answers", "like"])
            if f is None or "name" not in f:
                continue
            name = str(f["name"].value)
            if not self.unique(f["name"], name, seen, "case"):
                continue
            answers: dict[str, Any] = {}
            if "like" in f:
                base = by_name.get(str(f["like"].value))
                if base is None:
                    self.problem(
                        f["like"], f"no earlier case named '{f['like'].value}'{did_you_mean(f['like'].value, by_name)}"
                    )
                    continue
                answers.update(base.answers)
            given = f.get("answers")
            if given is not None:
                if not isinstance(given.value, dict):
                    self.problem(given, "expected a mapping of question ids to answers")
                    continue
                for key, value in given.value.items():
                    if value.value is None:
                        answers.pop(key, None)  # 'key: null' removes an answer taken from 'like'
                    else:
                        answers[key] = value.plain()
            expect = self.fields(f["expect"], _EXPECT_KEYS)
            if expect is None:
                continue
            case = WorkedCase(
                name,
                MappingProxyType(answers),
                MappingProxyType({k: v.plain() for k, v in expect.items()}),
                item.at.line,
            )
            cases.append(case)
            by_name[name] = case
        return tuple(cases)


def compile_rules(root: Node, sha256: str) -> RuleSet:
    """Check the whole file and build the rule set; raise :class:`RulesError` on problems."""
    c = _Compiler()
    top = c.fields(root, [k for k, req in TOP_LEVEL.items() if req], [k for k, req in TOP_LEVEL.items() if not req])
    if top is None:
        raise RulesError(c.problems)
    version = top.get("version")
    if version is not None and not isinstance(version.value, str):
        c.problem(version, 'write the version in quotes, for example "2026.1"')
    sets = top.get("option_sets")
    if sets is not None:
        if not isinstance(sets.value, dict):
            c.problem(sets, "expected a mapping of option set names to lists of options")
        else:
            for name, options in sets.value.items():
                c.option_sets[name] = c.option_list(options, None)
    pages = c.pages(top["pages"]) if "pages" in top else ()
    c.read_groups(top.get("groups"))
    c.read_derived(top.get("derived"))
    score = top.get("score")
    if score is not None and (score.value not in c.derived or c.derived[str(score.value)].kind != "percent_of_maximum"):
        scores = [d for d, v in c.derived.items() if v.kind == "percent_of_maximum"]
        hint = did_you_mean_or_list(score.value, scores) if scores else ""
        c.problem(score, f"'{score.value}' is not a percent_of_maximum derived value{hint}")
    levels = c.triage_levels(top["triage_levels"]) if "triage_levels" in top else ()
    flags = c.red_flags(top["red_flags"], levels) if "red_flags" in top else ()
    outcomes = c.outcomes(top["outcomes"]) if "outcomes" in top else {}
    rules = c.outcome_rules(top["outcome_rules"], outcomes) if "outcome_rules" in top else ()
    cases = c.cases(top.get("cases"))
    if c.problems:
        raise RulesError(c.problems)
    return RuleSet(
        version=str(version.value) if version else "",
        sha256=sha256,
        path=root.at.file,
        pages=pages,
        questions=MappingProxyType(dict(c.questions)),
        derived=tuple(c.derived.values()),
        score=str(score.value) if score else "",
        triage_levels=levels,
        red_flags=flags,
        outcomes=MappingProxyType(outcomes),
        outcome_rules=rules,
        cases=cases,
        clinician_reasons=MappingProxyType(dict(c.clinician_reasons)),
    )
