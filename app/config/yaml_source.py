"""Parse YAML and remember where every key and value came from.

Errors found later (by pydantic, by the mapping compiler) name a path such
as ``("fields", "email", "transform", 1)``; the :class:`SourceMap` turns that
back into a line and column. YAML is read with the YAML 1.2 core schema:
only ``true``/``false`` are booleans (so ``NO`` stays Norway and ``on:`` stays
a key) and dates stay strings, as they arrive from business systems.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.config.base import with_path
from app.config.issues import START, ConfigIssue, Mark, RootCause
from app.config.yaml_bounds import BoundedComposer, KeyLengthScanner, YamlLimitError

Location = tuple[Hashable, ...]


class _Yaml12Loader(BoundedComposer, KeyLengthScanner, yaml.SafeLoader):
    """A safe loader with YAML 1.2 core-schema scalars, bounded in depth and size and in the length of keys."""


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


MAX_DIGITS = 4300
"""Python's own limit for turning decimal text into a number and back (sys.int_info)."""
_MAX_INT = 10**MAX_DIGITS


class _TooManyDigits(ValueError):
    def __init__(self) -> None:
        super().__init__(f"a number of more than {MAX_DIGITS:,} digits: write it in quotes, as text")


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if len(text.lstrip("+-")) > MAX_DIGITS:
        raise _TooManyDigits
    if text.startswith("0o"):
        value = int(text[2:], 8)
    elif text.startswith("0x"):
        value = int(text[2:], 16)
    else:
        value = int(text, 10)
    if abs(value) >= _MAX_INT:  # hexadecimal or octal digits, too many to show in decimal
        raise _TooManyDigits
    return value


def _construct_float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + name for name in ("str", "int", "float", "bool", "null", "merge")}
"""The tags of the YAML 1.2 core schema: Brygga reads plain data, never ``!!binary``, ``!!set`` or objects."""


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


ScalarHook = Callable[[str, Mark, Location], str]
"""Called with a string value, where it starts, and its location path; returns the value to keep."""


def parse_yaml(
    file: Path, text: str, issues: list[ConfigIssue], on_string: ScalarHook | None = None
) -> YamlDocument | None:
    """Parse ``text`` keeping node positions; return ``None`` (with an issue) on a syntax error.

    :param on_string: called for every string value (not keys) and may replace it,
        used for ``${VAR}`` interpolation
    """
    try:
        loader = _Yaml12Loader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, anywhere in the text
        issues.append(_character_issue(file, text, exc))
        return None
    try:
        root = loader.get_single_node()
    except YamlLimitError as exc:
        issues.append(ConfigIssue(file, _position(exc.problem_mark), str(exc.problem)))
        return None
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


def _position(mark: yaml.Mark | None) -> Mark:
    return Mark(mark.line + 1, mark.column + 1) if mark is not None else START


def _character_issue(file: Path, text: str, exc: yaml.reader.ReaderError) -> ConfigIssue:
    """Where the first character YAML does not allow is, and what it is."""
    before = text[: exc.position]
    mark = Mark(before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
    code = int(exc.character) if isinstance(exc.character, int) else ord(text[exc.position])
    if code == 0:
        name = "a NUL character (U+0000)"
    elif unicodedata.category(chr(code)) == "Cc":
        name = f"the control character U+{code:04X}"
    else:
        name = f"the character U+{code:04X}"
    return ConfigIssue(file, mark, f"{name} cannot be in a YAML file: remove it (or write an escape in double quotes)")


def _syntax_issue(file: Path, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    position = _position(exc.problem_mark or exc.context_mark)
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
            self._check_tag(node, location, _CORE + "map")
            return self._mapping(node, location)
        if isinstance(node, SequenceNode):
            self._check_tag(node, location, _CORE + "seq")
            return [self.build(item, (*location, index), None) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        problem, value = _construct(self.loader, node)
        if problem is not None:  # the value is its text now: what else is said about it would echo this
            self.issues.append(RootCause(self.source_map.file, _mark_of(node), with_path(location, problem)))
        elif isinstance(value, str) and self.on_string is not None:
            return self.on_string(value, _mark_of(node), location)
        return value

    def _key(self, node: Node, location: Location) -> Any:
        """A key of the mapping at ``location``, kept (written visibly) when it has a problem, so checks go on."""
        if not isinstance(node, ScalarNode):
            return []  # not hashable: the caller reports it
        problem, key = _construct(self.loader, node)
        if problem is not None:
            message = with_path(location, f"key '{key}': {problem}")
            self.issues.append(ConfigIssue(self.source_map.file, _mark_of(node), message))
        return key

    def _check_tag(self, node: Node, location: Location, expected: str) -> None:
        """A list or mapping with a tag is read as plain data; complaints about its shape would echo the tag."""
        if node.tag != expected:
            message = with_path(location, _tag_problem(node.tag))
            self.issues.append(RootCause(self.source_map.file, _mark_of(node), message))

    def _mapping(self, node: MappingNode, location: Location) -> dict[Any, Any]:
        own_pairs = [pair for pair in node.value if pair[0].tag != "tag:yaml.org,2002:merge"]
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.issues.append(_syntax_issue(self.source_map.file, exc))
        merged_count = len(node.value) - len(own_pairs)
        result: dict[Any, Any] = {}
        seen: dict[Any, tuple[Mark, Node]] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._key(key_node, location)
            if not isinstance(key, Hashable):
                self.issues.append(ConfigIssue(self.source_map.file, _mark_of(key_node), "a key must be a plain value"))
                continue
            key_mark = _mark_of(key_node)
            if index >= merged_count:
                if key in seen:
                    message = _duplicate(location, key, key_node, *seen[key])
                    self.issues.append(ConfigIssue(self.source_map.file, key_mark, message))
                    continue
                seen[key] = (key_mark, key_node)
            result[key] = self.build(value_node, (*location, key), key_mark)
        return result


def _duplicate(location: Location, key: Any, node: Node, first: Mark, first_node: Node) -> str:
    """Why ``key`` is refused: given before, or equal to an earlier key of another type to Python, which a
    plain mapping cannot hold apart (``true`` and ``1``, ``false`` and ``0``; ``1`` and ``1.0``)."""
    earlier = first_node.value if isinstance(first_node, ScalarNode) else ""
    if node.tag == first_node.tag:
        return f"duplicate key '{key}' (first given at line {first.line}): remove one"
    number = node.value if node.tag != _CORE + "bool" else earlier
    return with_path(
        location,
        f"key '{node.value}' is the same key as '{earlier}' (line {first.line}) to Python (a boolean is the "
        f"number 1 or 0, 1.0 is 1): write one of them as text ('{number}': …), which text and numbers still find",
    )


def _construct(loader: yaml.SafeLoader, node: ScalarNode) -> tuple[str | None, Any]:
    """A scalar's value and ``None``, or why it cannot be a config value and its text, written visibly."""
    if node.tag not in _SCALAR_TAGS:
        return _tag_problem(node.tag), _visible(str(node.value))
    try:
        value = loader.construct_object(node, deep=True)
    except _TooManyDigits as exc:
        return str(exc), node.value[:20] + "…"
    except (ValueError, KeyError, yaml.YAMLError):  # such as !!int abc or !!bool maybe
        return _tag_mismatch(node), _visible(str(node.value))
    if isinstance(value, str) and (problem := _text_problem(value)) is not None:
        return problem, _visible(value)
    return None, value


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _tag_problem(tag: str) -> str:
    return (
        f"the tag {_short_tag(tag)} is not supported: config values are plain text, numbers, true/false,"
        " lists and mappings; remove the tag (quote a value to keep it text)"
    )


def _tag_mismatch(node: Node) -> str:
    return f"'{_visible(str(node.value))}' is not a valid {_short_tag(node.tag)}: fix the value or remove the tag"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    """Why a string from a double-quoted escape cannot be config text, if it cannot."""
    if "\x00" in text:
        return "a NUL character (\\0) cannot be in config text: remove it"
    found = _LONE_SURROGATE.search(text)
    if found is not None:
        return (
            f"\\u{ord(found.group()):04x} is half of a UTF-16 pair, not a character: write the character itself"
            " (or a \\U escape of 8 hex digits)"
        )
    return None


def _visible(text: str) -> str:
    """``text`` with its NULs and lone surrogates written as escapes, safe to encode and to show."""
    return text.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
