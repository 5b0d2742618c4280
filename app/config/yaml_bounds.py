"""Limits on what one YAML file may grow into, checked while it is composed.

PyYAML composes an alias as a second reference to its anchor's node, so the
node graph stays as small as the text while the data it stands for does
not: nine lines of aliases stand for 387 million values (an alias bomb),
and an alias inside its own anchor stands for an endless cycle. Both only
blow up when something walks the graph, and deep nesting blows Python's
stack even before that. The composer here counts, node by node, how many
values the file expands to and how deep they nest, and stops at the first
node past a limit, before anything is expanded: a hostile file costs
milliseconds, and its error has a line and a column.

A key has a limit of its own, PyYAML's: a key written on one line (a plain or
quoted scalar before its ``:``) is read as a key only up to 1024 characters.
Past that PyYAML gives up on it and reports what it meets next, "could not
find expected ':'" at the very colon that is there; the scanner here says
what is wrong instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_DEPTH = 100
"""Levels of nesting: a real config needs about ten."""

MAX_VALUES = 100_000
"""Keys, values and list items of one file, each alias counted as all its anchor holds."""

MAX_KEY = 1024
"""Characters of a key written on one line: PyYAML's limit on simple keys (its scanner's, not ours to lift)."""

_LINE_ENDS = "\0 \t\r\n\x85\u2028\u2029"


class YamlLimitError(yaml.MarkedYAMLError):
    """A file past a limit, or an alias inside its own anchor; ``problem`` says which, for the user."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


@dataclass(frozen=True)
class _Extent:
    """What a finished anchored node expands to: how many values, how many levels."""

    values: int
    levels: int


class BoundedComposer(yaml.composer.Composer):
    """A composer that refuses too deep or too large files, and recursive aliases.

    Mixed into a loader ahead of PyYAML's own classes; state is set up per
    document, as PyYAML's loaders do not call ``super().__init__``.
    """

    def compose_document(self) -> Node | None:
        self._anchored: dict[int, _Extent] = {}
        self._open: list[int] = []  # per node being composed: the most levels of a child so far
        self._values = 0
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            node = super().compose_node(parent, index)
            assert node is not None, "PyYAML raises for an undefined alias"
            self._repeat(event.anchor, node, event.start_mark)
            return node
        event = self.peek_event()  # type: ignore[attr-defined]
        if len(self._open) >= MAX_DEPTH:
            raise YamlLimitError(
                f"nested more than {MAX_DEPTH} levels deep: no config needs that many", event.start_mark
            )
        self._count(1, event.start_mark, None)
        before = self._values - 1
        self._open.append(0)
        node = super().compose_node(parent, index)
        extent = _Extent(self._values - before, 1 + self._open.pop())
        self._close(extent)
        if event.anchor is not None:
            self._anchored[id(node)] = extent
        return node

    def _repeat(self, anchor: str, node: Node, mark: Any) -> None:
        """Count an alias as everything its anchor holds, written out once more."""
        extent = self._anchored.get(id(node))
        if extent is None:
            line = node.start_mark.line + 1
            raise YamlLimitError(
                f"the alias *{anchor} is inside its own anchor &{anchor} (line {line}), so it would repeat"
                " forever: an alias can only name a finished value",
                mark,
            )
        if len(self._open) + extent.levels > MAX_DEPTH:
            raise YamlLimitError(
                f"with what *{anchor} holds, this is nested more than {MAX_DEPTH} levels deep:"
                " no config needs that many",
                mark,
            )
        self._count(extent.values, mark, anchor)
        self._close(extent)

    def _count(self, values: int, mark: Any, anchor: str | None) -> None:
        self._values += values
        if self._values <= MAX_VALUES:
            return
        if anchor is None:
            problem = f"more than {MAX_VALUES:,} values (keys and list items included) in one file: split it"
        else:
            problem = (
                f"the alias *{anchor} takes this file past {MAX_VALUES:,} values (each alias repeats all that"
                f" its anchor holds, {values:,} values here): use fewer aliases"
            )
        raise YamlLimitError(problem, mark)

    def _close(self, extent: _Extent) -> None:
        if self._open:
            self._open[-1] = max(self._open[-1], extent.levels)


class KeyLengthScanner(yaml.scanner.Scanner):
    """A scanner that names a key past :data:`MAX_KEY` characters as the problem, at the key's start.

    Mixed into a loader ahead of PyYAML's own classes, as :class:`BoundedComposer` is.
    """

    def stale_possible_simple_keys(self) -> None:
        key = self.possible_simple_keys.get(self.flow_level)
        line, index = self.line, self.index  # type: ignore[attr-defined]  # the Reader's, mixed in after this class
        if key is not None and key.line == line and index - key.index > MAX_KEY and self._at_a_colon():
            raise YamlLimitError(
                f"this key is longer than {MAX_KEY} characters: YAML keys are limited to {MAX_KEY} characters"
                " (PyYAML's limit on simple keys); shorten it",
                key.mark,
            )
        super().stale_possible_simple_keys()

    def _at_a_colon(self) -> bool:
        """Whether a ``:`` that makes what is before it a key comes next (after spaces)."""
        peek = self.peek  # type: ignore[attr-defined]  # the Reader's, mixed in after this class
        ahead = 0
        while peek(ahead) in " \t":
            ahead += 1
        return bool(peek(ahead) == ":" and (self.flow_level > 0 or peek(ahead + 1) in _LINE_ENDS))
