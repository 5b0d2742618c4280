"""Printing for the CLI: stdout and stderr, every secret value scrubbed.

``say`` and ``warn`` scrub what they print; :meth:`Output.guard_streams` also
puts a scrubbing writer in front of the process's own stdout and stderr, so
what reaches them any other way (a log line of the engine, a traceback of an
unexpected error, a rich table) is scrubbed as well.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, TextIO

from rich.console import Console, RenderableType

from app.config import SecretValues


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
    """Prints to stdout and stderr with every secret value scrubbed."""

    def __init__(self) -> None:
        self.secrets = SecretValues()
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def guard_streams(self) -> None:
        """Scrub :attr:`secrets` (filled as the project is read) from everything written to stdout and stderr."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, RedactingStream):
                setattr(sys, name, RedactingStream(stream, self.secrets))

    def say(self, text: str, style: str | None = None) -> None:
        self.out.print(self.secrets.redact(text), style=style, markup=False)

    def warn(self, text: str, style: str | None = None) -> None:
        self.err.print(self.secrets.redact(text), style=style, markup=False)

    def show(self, renderable: RenderableType) -> None:
        """A rich table or the like; its text is built from redacted strings by the caller (a cell may be
        folded over lines, where a secret would no longer be found whole)."""
        self.out.print(renderable)


output = Output()
