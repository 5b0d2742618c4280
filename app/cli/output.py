"""Printing for the CLI: stdout and stderr, every secret value scrubbed."""

from __future__ import annotations

from rich.console import Console, RenderableType

from app.config import SecretValues


class Output:
    """Prints to stdout and stderr with every secret value scrubbed."""

    def __init__(self) -> None:
        self.secrets = SecretValues()
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, text: str, style: str | None = None) -> None:
        self.out.print(self.secrets.redact(text), style=style, markup=False)

    def warn(self, text: str, style: str | None = None) -> None:
        self.err.print(self.secrets.redact(text), style=style, markup=False)

    def show(self, renderable: RenderableType) -> None:
        """A rich table or the like; its text is built from redacted strings by the caller."""
        self.out.print(renderable)


output = Output()
