"""Compiled conditions: fast to test, and able to explain themselves for the trace.

A condition tests a *context*: a mapping from question ids to answers and from derived
value ids to their values. A leaf about a question that was not answered (or was
skipped) is false, whatever its operator; ``not`` is plain logical negation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Context = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TraceNode:
    """How one condition came out for one set of answers."""

    test: str
    result: bool
    children: tuple[TraceNode, ...] = ()
    actual: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"test": self.test, "result": self.result}
        if not self.children:
            data["actual"] = self.actual
        else:
            data["parts"] = [child.to_json() for child in self.children]
        return data


class Condition:
    """Base of every condition; ``source`` is the rules-file form, ``reason`` its text."""

    __slots__ = ("reason", "source")

    def __init__(self, source: object, reason: str | None) -> None:
        self.source = source
        self.reason = reason

    def test(self, ctx: Context) -> bool:
        raise NotImplementedError

    def explain(self, ctx: Context) -> TraceNode:
        raise NotImplementedError

    def subjects(self) -> set[str]:
        """Ids of the answers and derived values this condition reads."""
        raise NotImplementedError


class Leaf(Condition):
    """``<subject> <operator> <operand>``, e.g. ``time_since_onset at_least 6m_12m``."""

    __slots__ = ("check", "description", "subject")

    def __init__(
        self,
        subject: str,
        description: str,
        check: Callable[[Any], bool],
        source: object,
        reason: str | None,
    ) -> None:
        super().__init__(source, reason)
        self.subject = subject
        self.description = description
        self.check = check

    def test(self, ctx: Context) -> bool:
        value = ctx.get(self.subject)
        return value is not None and self.check(value)

    def explain(self, ctx: Context) -> TraceNode:
        value = ctx.get(self.subject)
        if isinstance(value, frozenset):
            value = sorted(value)
        return TraceNode(self.description, self.test(ctx), actual=value)

    def subjects(self) -> set[str]:
        return {self.subject}


class _Group(Condition):
    """A condition made of parts: ``all`` or ``any`` of them."""

    __slots__ = ("parts",)
    word = ""

    def __init__(self, parts: tuple[Condition, ...], source: object, reason: str | None) -> None:
        super().__init__(source, reason)
        self.parts = parts

    def explain(self, ctx: Context) -> TraceNode:
        children = tuple(part.explain(ctx) for part in self.parts)
        return TraceNode(self.word, self.test(ctx), children)

    def subjects(self) -> set[str]:
        return set().union(*(part.subjects() for part in self.parts))


class All(_Group):
    """True when every part is true."""

    __slots__ = ()
    word = "all of"

    def test(self, ctx: Context) -> bool:
        for part in self.parts:  # noqa: SIM110 - a plain loop is faster on this hot path
            if not part.test(ctx):
                return False
        return True


class Any_(_Group):
    """True when at least one part is true."""

    __slots__ = ()
    word = "any of"

    def test(self, ctx: Context) -> bool:
        for part in self.parts:  # noqa: SIM110 - a plain loop is faster on this hot path
            if part.test(ctx):
                return True
        return False


class Not(Condition):
    """True when its part is false."""

    __slots__ = ("part",)

    def __init__(self, part: Condition, source: object, reason: str | None) -> None:
        super().__init__(source, reason)
        self.part = part

    def test(self, ctx: Context) -> bool:
        return not self.part.test(ctx)

    def explain(self, ctx: Context) -> TraceNode:
        child = self.part.explain(ctx)
        return TraceNode("not", not child.result, (child,))

    def subjects(self) -> set[str]:
        return self.part.subjects()


def true_reasons(condition: Condition, ctx: Context, expand: Callable[[str], Condition | None]) -> list[str]:
    """Reason texts of the parts that made ``condition`` true, outermost first.

    A true part with its own reason speaks for everything inside it; otherwise its true
    children are asked in order, and a leaf on a derived yes/no value is asked through
    ``expand``, which gives the condition that defines it.
    """
    if not condition.test(ctx):
        return []
    if condition.reason:
        return [condition.reason]
    if isinstance(condition, _Group):
        found: list[str] = []
        for part in condition.parts:
            found.extend(true_reasons(part, ctx, expand))
        return found
    if isinstance(condition, Leaf):
        definition = expand(condition.subject)
        if definition is not None:
            return true_reasons(definition, ctx, expand)
    return []
