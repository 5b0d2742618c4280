"""Parse YAML and remember where every key and value came from.

Errors found later (by pydantic, by the mapping compiler) name a path such
as ``("fields", "email", "transform", 1)``; the :class:`SourceMap` turns that
back into a line and column. YAML is read with the YAML 1.2 core schema:
only ``true``/``false`` are booleans (so ``NO`` stays Norway and ``on:`` stays
a key) and dates stay strings, as they arrive from business systems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.config.issues import START, ConfigIssue, Mark

Location = tuple[Hashable, ...]


class _Yaml12Loader(yaml.SafeLoader):
    """A safe loader with YAML 1.2 core-schema scalars."""


_Yaml12Loader.yaml_implicit_resolvers = {}
_IMPLICIT: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
]
for _tag, _regexp, _first in _IMPLICIT:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


@dataclass(frozen=True)
class NodeMarks:
    """Where a value starts, and where its key starts (``None`` for list items and roots)."""

    value: Mark
    key: Mark | None = None


@dataclass
class SourceMap:
    """Positions of every node of one YAML file, by location path."""

    file: Path
    marks: dict[Location, NodeMarks] = field(default_factory=dict)

    def value_mark(self, location: Location) -> Mark:
        """Where the value at ``location`` starts, or its nearest known ancestor."""
        return self._nearest(location).value

    def key_mark(self, location: Location) -> Mark:
        """Where the key of ``location`` starts (its value when it has no key)."""
        marks = self._nearest(location)
        return marks.key or marks.value

    def nearest(self, location: Location) -> Location:
        """The longest prefix of ``location`` that is written in the file."""
        for end in range(len(location), -1, -1):
            if location[:end] in self.marks:
                return location[:end]
        return ()

    def has(self, location: Location) -> bool:
        return location in self.marks

    def issue(self, location: Location, message: str, *, at_key: bool = False) -> ConfigIssue:
        mark = self.key_mark(location) if at_key else self.value_mark(location)
        return ConfigIssue(self.file, mark, message)

    def _nearest(self, location: Location) -> NodeMarks:
        for end in range(len(location), -1, -1):
            marks = self.marks.get(location[:end])
            if marks is not None:
                return marks
        return NodeMarks(START)

    def prefixed(self, prefix: Location) -> SourceMap:
        """A view whose locations are relative to ``prefix``."""
        width = len(prefix)
        relative = {loc[width:]: marks for loc, marks in self.marks.items() if loc[:width] == prefix}
        return SourceMap(self.file, relative)


@dataclass
class YamlDocument:
    """One parsed file: plain Python data and where each part of it came from."""

    file: Path
    data: Any
    source_map: SourceMap


ScalarHook = Callable[[str, Mark], str]


def parse_yaml(
    file: Path, text: str, issues: list[ConfigIssue], on_string: ScalarHook | None = None
) -> YamlDocument | None:
    """Parse ``text`` keeping node positions; return ``None`` (with an issue) on a syntax error.

    :param on_string: called for every string value (not keys) and may replace it,
        used for ``${VAR}`` interpolation
    """
    loader = _Yaml12Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        issues.append(_syntax_issue(file, exc))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML marks every parse error
        issues.append(ConfigIssue(file, START, f"YAML syntax error: {exc}"))
        return None
    finally:
        loader.dispose()
    source_map = SourceMap(file)
    if root is None:
        return YamlDocument(file, None, source_map)
    builder = _Builder(loader, source_map, issues, on_string)
    data = builder.build(root, (), None)
    return YamlDocument(file, data, source_map)


def _syntax_issue(file: Path, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    position = Mark(mark.line + 1, mark.column + 1) if mark is not None else START
    problem = exc.problem or "cannot parse"
    if exc.context and problem.startswith("but "):  # PyYAML's "expected X" / "but found Y" reads in that order
        message = f"YAML syntax error: {exc.context}, {problem}"
    else:
        message = f"YAML syntax error: {problem}" + (f" ({exc.context})" if exc.context else "")
    if problem == "but found another document":
        message += ": a file holds one document, remove the '---' line and split the rest into its own file"
    if "\\t" in problem or "\t" in problem:
        message += "; indent with spaces, not tabs"
    return ConfigIssue(file, position, message)


def _mark_of(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node tree into Python data, filling the source map."""

    def __init__(
        self, loader: yaml.SafeLoader, source_map: SourceMap, issues: list[ConfigIssue], on_string: ScalarHook | None
    ) -> None:
        self.loader = loader
        self.source_map = source_map
        self.issues = issues
        self.on_string = on_string

    def build(self, node: Node, location: Location, key_mark: Mark | None) -> Any:
        self.source_map.marks[location] = NodeMarks(_mark_of(node), key_mark)
        if isinstance(node, MappingNode):
            return self._mapping(node, location)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*location, index), None) for index, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and self.on_string is not None:
            return self.on_string(value, _mark_of(node))
        return value

    def _mapping(self, node: MappingNode, location: Location) -> dict[Any, Any]:
        own_pairs = [pair for pair in node.value if pair[0].tag != "tag:yaml.org,2002:merge"]
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.issues.append(_syntax_issue(self.source_map.file, exc))
        merged_count = len(node.value) - len(own_pairs)
        result: dict[Any, Any] = {}
        seen: dict[Any, Mark] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                self.issues.append(ConfigIssue(self.source_map.file, _mark_of(key_node), "a key must be a plain value"))
                continue
            key_mark = _mark_of(key_node)
            if index >= merged_count:
                if key in seen:
                    first = seen[key]
                    self.issues.append(
                        ConfigIssue(
                            self.source_map.file,
                            key_mark,
                            f"duplicate key '{key}' (first given at line {first.line}): remove one",
                        )
                    )
                    continue
                seen[key] = key_mark
            result[key] = self.build(value_node, (*location, key), key_mark)
        return result
