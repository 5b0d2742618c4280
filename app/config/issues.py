"""Config problems with their place in a file: ``FILE:LINE:COL: message``."""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    col: int


START = Mark(1, 1)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one config file, at one place."""

    file: Path
    mark: Mark
    message: str

    @property
    def line(self) -> int:
        return self.mark.line

    @property
    def col(self) -> int:
        return self.mark.col

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"

    @property
    def place(self) -> str:
        """``FILE:LINE:COL``, on one line whatever the file's name holds."""
        return f"{display_path(self.file).translate(_SPELT)}:{self.mark.line}:{self.mark.col}"


class ConfigWarning(ConfigIssue):
    """Not a problem: a value written a way that still works but is deprecated; the message says how to
    write it now. Shown by ``brygga validate``, ``FILE:LINE:COL: warning: message``; fails nothing."""

    def __str__(self) -> str:
        return f"{self.place}: warning: {self.message}"


class RootCause(ConfigIssue):
    """A problem with a value as written (an unset ``${VAR}``, an unsupported tag, a NUL).

    The value is replaced by its text, so checks go on; what they would then
    say about the same place only echoes this issue, and is dropped.
    """


@dataclass(frozen=True)
class VariableIssue(RootCause):
    """A ``${NAME}`` whose value cannot be used, kept as its text at ``location`` in ``file``.

    A problem only for a command that uses that part of the project (see :class:`~app.config.needs.Needs`):
    ``brygga run`` from cron does not need the API's tokens, which only ``serve`` uses.
    """

    variable: str = ""
    location: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class UnsetVariable(VariableIssue):
    """A ``${NAME}`` whose variable is not set."""


@dataclass(frozen=True)
class UnusableVariable(VariableIssue):
    """A ``${NAME}`` whose variable is set to no text: bytes that are not UTF-8, or a NUL."""


@dataclass(frozen=True)
class Unchecked(ConfigIssue):
    """What could not be checked because ``system`` has errors of its own (a sync's stream in it).

    Shown only beside those errors: where the system's only problem was a variable the command does
    not need, there is nothing above to point to, and nothing the command uses is left unchecked.
    """

    system: str = ""


MOST_MESSAGE_CHARACTERS = 2000
"""The longest message shown: far above what any check says, short of a value written out whole. Messages
quote the value they are about; a key, a mode or a cron of megabytes made one line of megabytes, in a
terminal, a log and the answer of a reload."""

_KEPT_AT_EACH_END = 900

_SPELT = {code: f"\\x{code:02x}" for code in (*range(9), *range(11, 32), 127, *range(0x80, 0xA0))} | {
    10: "\\n",
    13: "\\r",
}
"""Control characters as escapes: an issue is one line (a quoted value with a line end in it made two, the
second one looking like an issue of its own), and a terminal's escape codes in a value do nothing."""


def shown_message(message: str) -> str:
    """``message`` as one line of at most :data:`MOST_MESSAGE_CHARACTERS`: control characters spelt out,
    and the middle of a longer one left out, so its start (the place and the start of the value) and its
    end (what to do) stay. Apply it after scrubbing secrets: half a secret is no longer found as one."""
    message = message.translate(_SPELT)
    if len(message) <= MOST_MESSAGE_CHARACTERS:
        return message
    left_out = len(message) - 2 * _KEPT_AT_EACH_END
    return f"{message[:_KEPT_AT_EACH_END]}…({left_out:,} characters left out)…{message[-_KEPT_AT_EACH_END:]}"


def display_path(file: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    try:
        return os.path.relpath(file)
    except ValueError:  # another drive on Windows
        return str(file)
