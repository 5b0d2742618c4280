"""Printing for the CLI: stdout and stderr, every secret value scrubbed.

``say`` and ``warn`` scrub what they print; :meth:`Output.guard_streams` also
puts a scrubbing writer in front of the process's own stdout and stderr, so
what reaches them any other way (a log line of the engine, a traceback of an
unexpected error, a rich table) is scrubbed as well.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

from app.config import SecretValues

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

_SPELT = {code: f"\\x{code:02x}" for code in (*range(9), *range(11, 32), 127, *range(0x80, 0xA0))}
"""Control characters written out (``\\x1b``): text from the systems (a record's key, an error quoting
it) or from a command line could otherwise set a terminal's title, clear its screen or hide a line. Rich
leaves some out of what it prints (bell, carriage return): spelt out, a message reads alike on a terminal
and in a log."""
_ONE_LINE = _SPELT | {10: "\\n", 0x2028: "\\u2028", 0x2029: "\\u2029"}
"""Line ends too: the line separators are line ends to ``str.splitlines`` (a script reading the output)."""
_UNBOUNDED = 1 << 20
"""The width a table gets outside a terminal: more than any row needs, so no cell is folded."""


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with its control characters (all but tab, and but line ends unless ``one_line``) spelt out."""
    return text.translate(_ONE_LINE if one_line else _SPELT)


class OneLineFormatter(logging.Formatter):
    """Each log record on one line: control characters and line ends in its message (a record's key, a table's
    name from a config file, an error quoting a system's answer) spelt out, so that no text from outside
    forges a log line or drives the terminal that shows the log. A traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = visible(message, one_line=True)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


class RedactingStream(io.TextIOBase):
    """A text stream that scrubs secrets from what is written before passing it on.

    Text is passed on a line at a time (and at each ``flush``), so a secret written in two pieces, as
    ``print(a, b)`` writes, is still found whole.
    """

    def __init__(self, stream: TextIO, secrets: SecretValues) -> None:
        super().__init__()
        self.stream = stream
        self.secrets = secrets
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            end = self._pending.rfind("\n") + 1
            if end:
                ready, self._pending = self._pending[:end], self._pending[end:]
                self.stream.write(self.secrets.redact(ready))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            ready, self._pending = self._pending, ""
            if ready:
                self.stream.write(self.secrets.redact(ready))
        self.stream.flush()

    def close(self) -> None:
        """Pass on what is left; the stream underneath stays open (it is the process's own)."""
        self.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Output:
    """Prints to stdout and stderr with every secret value scrubbed.

    Lines go through rich only where they may be styled (a terminal, or ``FORCE_COLOR``/``TTY_COMPATIBLE``
    set): a run printing to a log or a pipe writes them as they are, without importing rich (~30 ms of
    every command).
    """

    def __init__(self) -> None:
        self.secrets = SecretValues()

    @cached_property
    def out(self) -> Console:
        from rich.console import Console  # noqa: PLC0415 (see the class)

        return Console(highlight=False, soft_wrap=True, emoji=False)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console  # noqa: PLC0415 (see the class)

        return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

    def guard_streams(self) -> None:
        """Scrub :attr:`secrets` (filled as the project is read) from everything written to stdout and stderr,
        and write the warnings a command's engine logs (a run that failed: Python's last-resort handler prints
        them where no logging is set up, as in every command but ``serve``) one line each."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, RedactingStream):
                setattr(sys, name, RedactingStream(stream, self.secrets))
        if logging.lastResort is not None:
            logging.lastResort.setFormatter(OneLineFormatter())

    @staticmethod
    def styles_stdout() -> bool:
        """Whether stdout is a terminal (or one in all but name): what a live progress line needs."""
        return _styled(sys.stdout)

    def shown(self, text: str, *, one_line: bool = False) -> str:
        """``text`` as it may be printed: secrets scrubbed, then control characters (and line ends, when
        ``one_line``) spelt out."""
        return visible(self.secrets.redact(text), one_line=one_line)

    def say(self, text: str, style: str | None = None, *, one_line: bool = False) -> None:
        """Print ``text`` on stdout, as written (never rich markup: ``[red]`` in a name stays text).

        :param one_line: ``text`` is one line, whatever it holds: a name from a config file, a record's key or
            a system's error with a line end in it would otherwise print a line that passes for one of ours
        """
        if _styled(sys.stdout):
            self.out.print(self.shown(text, one_line=one_line), style=style, markup=False)
        else:
            _plain_line(sys.stdout, self.shown(text, one_line=one_line))

    def warn(self, text: str, style: str | None = None, *, one_line: bool = False) -> None:
        """As :meth:`say`, on stderr."""
        if _styled(sys.stderr):
            self.err.print(self.shown(text, one_line=one_line), style=style, markup=False)
        else:
            _plain_line(sys.stderr, self.shown(text, one_line=one_line))

    def show(self, renderable: RenderableType) -> None:
        """A rich table or the like; its text is built from redacted strings by the caller (a cell may be
        folded over lines, where a secret would no longer be found whole). On a terminal it fits the window;
        into a pipe or a file each row is one line however long (a script greps a sync's name whole)."""
        if _styled(sys.stdout):
            self.out.print(renderable)
            return
        from rich.console import Console  # noqa: PLC0415 (see the class)

        Console(width=_UNBOUNDED, highlight=False, soft_wrap=True, emoji=False).print(renderable)


def _styled(stream: TextIO) -> bool:
    """Whether rich would style what is printed on ``stream``: its own test (rich.console.Console.is_terminal)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream (the end of a test run)
        return False


def _plain_line(stream: TextIO, text: str) -> None:
    """``text`` (its control codes spelt out already) and a line end, as rich prints it where it styles
    nothing: tabs expanded."""
    stream.write(text.expandtabs(8) + "\n")


output = Output()
