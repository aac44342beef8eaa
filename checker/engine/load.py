"""Read a rules file into nodes that remember where they came from.

PyYAML composes the document (with libyaml when available); this module turns the
composed tree into :class:`Node` values, rejecting duplicate keys and the YAML 1.1 trap
of unquoted ``yes``/``no``/``on``/``off`` silently becoming booleans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from .problems import Problem, RulesError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML11_BOOLEANS = {"yes", "no", "on", "off"}
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a rules file (line and column count from 1)."""

    file: str
    line: int
    column: int

    def problem(self, message: str) -> Problem:
        return Problem(self.file, self.line, self.column, message)


@dataclass(slots=True)
class Node:
    """One value of the rules file with its position and its path inside the file."""

    value: dict[str, Node] | list[Node] | Scalar
    at: Position
    path: str
    key_at: dict[str, Position] = field(default_factory=dict)

    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def is_scalar(self) -> bool:
        return not isinstance(self.value, (dict, list))

    def child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def plain(self) -> object:
        """The value as plain Python data (positions dropped)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def load_text(text: str, file: str) -> Node:
    """Parse rules text; raise :class:`RulesError` listing every problem found."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "not valid YAML"
        raise RulesError([Problem(file, line, column, f"YAML syntax: {what}")]) from None
    except yaml.YAMLError as exc:  # e.g. a document with more than one part
        raise RulesError([Problem(file, 1, 1, f"YAML syntax: {exc}")]) from None
    if root is None:
        raise RulesError([Problem(file, 1, 1, "the rules file is empty")])
    problems: list[Problem] = []
    node = _convert(root, file, "", problems)
    if problems:
        raise RulesError(problems)
    return node


def _position(yaml_node: yaml.Node, file: str) -> Position:
    mark = yaml_node.start_mark
    return Position(file, mark.line + 1, mark.column + 1)


def _convert(yaml_node: yaml.Node, file: str, path: str, problems: list[Problem]) -> Node:
    at = _position(yaml_node, file)
    if isinstance(yaml_node, yaml.MappingNode):
        mapping: dict[str, Node] = {}
        node = Node(mapping, at, path)
        for key_node, value_node in yaml_node.value:
            key_at = _position(key_node, file)
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(key_at.problem("a key must be a plain word"))
                continue
            key = str(key_node.value)
            if key in mapping:
                first = node.key_at[key]
                problems.append(key_at.problem(f"duplicate key '{key}' (first given at line {first.line})"))
                continue
            node.key_at[key] = key_at
            mapping[key] = _convert(value_node, file, node.child_path(key), problems)
        return node
    if isinstance(yaml_node, yaml.SequenceNode):
        items: list[Node] = []
        node = Node(items, at, path)
        for index, item in enumerate(yaml_node.value):
            items.append(_convert(item, file, node.child_path(index), problems))
        return node
    return Node(_scalar(yaml_node, at, path, problems), at, path)


def _scalar(yaml_node: yaml.Node, at: Position, path: str, problems: list[Problem]) -> Scalar:
    text = str(yaml_node.value)
    if getattr(yaml_node, "style", None):  # quoted or block text: always a string
        return text
    tag = yaml_node.tag.rsplit(":", 1)[-1]
    if tag == "bool":
        if text.lower() in _YAML11_BOOLEANS:
            problems.append(
                at.problem(
                    f"{path}: unquoted {text} is read by YAML as true/false: "
                    f'write "{text}" in quotes for the answer code, or true/false for a flag'
                )
            )
            return text
        return text.lower() == "true"
    if tag == "int":
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag == "float" and _FLOAT.match(text):
        return float(text)
    if tag == "null":
        return None
    return text
