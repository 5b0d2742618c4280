"""How names read in a file kind's messages: columns quoted so spaces show, and the files a folder has."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def quoted(names: Sequence[str]) -> str:
    """Names as a user reads them in a message: ``'id', 'name '`` (spaces stay visible)."""
    return ", ".join(f"'{name}'" for name in names) if names else "(none)"


def columns_are(names: Sequence[str], what: str = "column") -> str:
    """``column 'a' is`` or ``columns 'a', 'b' are``: the start of a sentence about missing columns."""
    return f"{what} {quoted(names)} is" if len(names) == 1 else f"{what}s {quoted(names)} are"


def files_beside(path: Path) -> list[str]:
    """The names of the files in ``path``'s folder, sorted; none when it cannot be read."""
    try:
        return sorted(entry.name for entry in path.parent.iterdir() if entry.is_file())
    except OSError:
        return []


def listed(names: Sequence[str], most: int = 20) -> str:
    """The first ``most`` names, quoted, and ``…`` when there are more: a folder's files in one line."""
    return quoted(names[:most]) + (", …" if len(names) > most else "")
