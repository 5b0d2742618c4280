"""Reading and rewriting one JSON Lines file, with the file system's failures translated once, here.

A missing file or folder, a line that is not a JSON object, a file Brygga may not read: those will not
mend by themselves, so they are :class:`~connectors.base.PermanentError` naming the file (and line).
Any other ``OSError`` (a full disk, a network share gone for a moment) is a
:class:`~connectors.base.TransientError`: the engine retries it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import orjson

from connectors.base import NotJson, PermanentError, Record, TransientError, parse_json


@contextmanager
def file_errors(shown: str) -> Iterator[None]:
    """Raise the ``OSError`` of a file operation inside as a Brygga error that names ``shown``."""
    try:
        yield
    except FileNotFoundError as exc:
        raise PermanentError(f"{shown}: the file or its folder does not exist") from exc
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        raise PermanentError(f"{shown}: {exc.strerror}: check the system's `path` and the file's permissions") from exc
    except OSError as exc:
        raise TransientError(f"{shown}: {exc.strerror or exc}") from exc


def read_records(path: Path, shown: str) -> list[Record]:
    """Every record of the file, in file order (blank lines skipped).

    :raises PermanentError: when the file is missing or a line is not a JSON object (naming the line)
    :raises TransientError: when reading failed for a passing reason
    """
    with file_errors(shown):
        lines = path.read_bytes().splitlines()
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            records.append(_record(line, f"{shown}:{number}"))
    return records


def _record(line: bytes, where: str) -> Record:
    try:
        value = parse_json(line, where=where)  # numbers exact (0.1 stays Decimal("0.1")); too deep: cut there
    except NotJson as exc:
        raise PermanentError(f"{where}: not valid JSON ({exc}): fix the line, or remove it") from exc
    if not isinstance(value, dict):
        raise PermanentError(f"{where}: a line must hold one JSON object (a record), not {type(value).__name__}")
    return value


def rewrite(path: Path, shown: str, records: list[Record]) -> None:
    """Replace the file with ``records`` atomically: a reader sees the old file or the new one, never half.

    :raises PermanentError: when the folder is missing or may not be written
    :raises TransientError: when writing failed for a passing reason (the old file is kept)
    """
    with file_errors(shown):
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".brygga-tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.writelines(orjson.dumps(record, default=_plain) + b"\n" for record in records)
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def unwritable(value: object, field: str) -> str | None:
    """What in ``value`` (a record, or its field ``field``, all it holds) no JSON text can hold, or ``None``.

    A number that is not finite (``NaN``, ``Infinity``: orjson wrote a float one as ``null``, losing it
    silently, and a decimal one as ``NaN``, which no JSON reader takes) and bytes (written as their Python
    text, ``b'…'``, which reads back as text that is not the value) are refused: no encoding of them
    would read back as what was written.
    """
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else value - value == 0.0
        return None if finite else f"{field} is {value}, a number JSON cannot hold"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{field} is bytes, which JSON cannot hold: map it to text first (a transform or an expression)"
    if isinstance(value, dict):
        parts = ((f"{field}.{name}" if field else str(name), item) for name, item in value.items())
    elif isinstance(value, list | tuple):
        parts = ((f"{field}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next((problem for path, item in parts if (problem := unwritable(item, path)) is not None), None)


def _plain(value: object) -> object:
    """What orjson does not write itself: a decimal (read exactly) as the JSON number it was; else text."""
    return orjson.Fragment(str(value).encode()) if isinstance(value, Decimal) else str(value)
