"""A stream's ``table`` as the database names it: ``NAME`` or ``SCHEMA.NAME``, a name with a dot quoted.

``sales.q1`` is table ``q1`` in schema ``sales``, as in SQL. A table whose own
name holds a dot is written in double quotes, as in SQL: ``"sales.q1"`` (in
YAML, ``table: '"sales.q1"'``); a quote inside quotes is doubled. Before,
every dot split the text, so such a table could not be named at all, and on
SQLite, which has no schemas but ``main`` and ``temp``, any dotted name failed
with a message about a database that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

SQLITE_SCHEMAS = ("main", "temp")
"""The schemas of a SQLite database: Brygga attaches no other."""


@dataclass(frozen=True)
class TableName:
    """A table and the schema it is in (``None``: the connection's own)."""

    schema: str | None
    name: str


def parse_table(text: str) -> TableName:
    """The table ``text`` names.

    :raises ValueError: saying how to write it, when it is no ``NAME`` or ``SCHEMA.NAME``
    """
    parts = _parts(text)
    if len(parts) > 2:
        raise ValueError(
            f"'{text}' is {len(parts)} names: write NAME or SCHEMA.NAME, and a name that holds a dot in double "
            f"quotes (table: '\"{text}\"' for one table of that name)"
        )
    return TableName(parts[0], parts[1]) if len(parts) == 2 else TableName(None, parts[0])


def sqlite_problem(text: str) -> str | None:
    """Why a SQLite database cannot have the table ``text`` names (a schema it does not have), or ``None``."""
    schema = parse_table(text).schema
    if schema is None or schema in SQLITE_SCHEMAS:
        return None
    return (
        f"'{text}' names table {parse_table(text).name} in schema {schema}, and a SQLite database has no schema "
        f"but {' and '.join(SQLITE_SCHEMAS)}: for one table whose name holds a dot, quote it (table: '\"{text}\"')"
    )


def _parts(text: str) -> list[str]:
    """The dot-separated names of ``text``, each bare or in double quotes."""
    parts: list[str] = []
    at = 0
    while True:
        part, at = _quoted(text, at) if text.startswith('"', at) else _bare(text, at)
        if not part:
            raise ValueError(f"'{text}' holds an empty name: write NAME or SCHEMA.NAME")
        parts.append(part)
        if at == len(text):
            return parts
        if text[at] != ".":
            raise ValueError(f"'{text}': a quoted name ends at its closing quote; write NAME or SCHEMA.NAME")
        at += 1


def _bare(text: str, at: int) -> tuple[str, int]:
    end = text.find(".", at)
    end = len(text) if end < 0 else end
    part = text[at:end]
    if '"' in part:
        raise ValueError(f"'{text}': quote a whole name (\"NAME\"), with a quote inside it doubled")
    return part, end


def _quoted(text: str, at: int) -> tuple[str, int]:
    pieces: list[str] = []
    start = at + 1
    while True:
        close = text.find('"', start)
        if close < 0:
            raise ValueError(f"'{text}': a quote is not closed")
        if text.startswith('""', close):  # a quote within the name
            pieces.append(text[start : close + 1])
            start = close + 2
            continue
        pieces.append(text[start:close])
        return "".join(pieces), close + 1
