"""A stream's CSV file: how it is encoded, its header and rows, and its errors in the user's words.

Every library exception (``OSError``, ``UnicodeError``, ``csv.Error``) meets
:func:`errors_translated` on its way out of this package and leaves it as a
:class:`~app.errors.PermanentError` or :class:`~app.errors.TransientError`.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from connectors.base import ConnectorError, PermanentError, Record, TransientError, format_key
from connectors.table_file.messages import columns_are, quoted

if TYPE_CHECKING:
    from _csv import Reader

_UTF8 = frozenset({"utf-8", "utf-8-sig"})

MAX_CELL = 1 << 24
"""The longest cell Brygga reads (16 Mi characters), and so writes: the csv module's own default, 131,072,
refused whole files for one long note. Set for the process: the csv module keeps it for all its readers."""
MAX_LINE = 1 << 24
"""The longest line Brygga reads: the csv module holds a line whole, and a line of short cells as nine
times its size in objects; a file of one endless line (a device, a damaged export) would fill the memory."""
MAX_COLUMNS = 65_536
"""The most columns a header may name: four times a spreadsheet's (16,384), forty times a PostgreSQL table's.
Each becomes a field of every record; a header of a million names made records of a million fields each."""
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL))

# Gone, refused or read-only: retrying will not help. Other OS errors (a full
# disk, a network share that hiccups) may pass.
_PERMANENT_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS})


class CsvFileError(PermanentError):
    """A stream's file cannot be used as it is: missing, unreadable, or not what the stream's options say.

    :param file: the file, as the user knows it (relative to the project folder where possible)
    :param problem: what is wrong and how to fix it
    :param line: the line of the file, where known
    """

    def __init__(self, file: str, problem: str, *, line: int | None = None) -> None:
        self.file = file
        self.problem = problem
        self.line = line
        super().__init__(f"{file}{'' if line is None else f':{line}'}: {problem}")


@dataclass(frozen=True)
class CsvFile:
    """One stream's file and the options it is read and written with."""

    path: Path
    shown: str
    """The path as the user knows it, for messages."""
    encoding: str
    delimiter: str
    quotechar: str

    @property
    def utf8(self) -> bool:
        """True for UTF-8, whose byte-order mark is understood with or without it."""
        return codecs.lookup(self.encoding).name in _UTF8


@contextmanager
def errors_translated(file: CsvFile, line: Callable[[], int | None] = lambda: None) -> Iterator[None]:
    """Turn the exceptions of file and CSV work on ``file`` into connector errors.

    :param line: where the work got to in the file, asked only when something fails
    """
    try:
        yield
    except ConnectorError:
        raise
    except UnicodeEncodeError as exc:
        text = exc.object[exc.start : exc.end]
        raise CsvFileError(file.shown, f"{text!r} cannot be written in {file.encoding}") from exc
    except UnicodeError as exc:  # a byte that does not decode; UTF-16's missing byte-order mark
        raise _not_in_encoding(file) from exc
    except csv.Error as exc:
        raise CsvFileError(file.shown, f"not valid CSV: {exc}", line=line()) from exc
    except OSError as exc:
        raise os_error(file.shown, exc) from exc


def os_error(shown: str, exc: OSError) -> ConnectorError:
    """An ``OSError`` as a connector error: permanent when the file or folder is gone or refused."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None and Path(exc.filename).name != Path(shown).name:
        reason += f" ({exc.filename})"
    if exc.errno in _PERMANENT_ERRNOS:
        return CsvFileError(shown, reason)
    return TransientError(f"{shown}: {reason}")


def _not_in_encoding(file: CsvFile) -> CsvFileError:
    found = _first_undecodable_line(file.path, file.encoding)
    line, detail = (None, "") if found is None else (found[0], f" (bytes {found[1]})")
    if file.utf8:
        hint = "is it cp1252 (Windows, Excel)? set `encoding: cp1252` on the stream"
    else:
        hint = "set the stream's `encoding:` to the file's (utf-8, cp1252, latin-1, …)"
    return CsvFileError(file.shown, f"not valid {file.encoding}{detail}: {hint}", line=line)


_WIDE_BOMS = (
    ("utf-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),  # before UTF-16: UTF-32's LE mark begins with its
    ("utf-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
)
"""The byte-order marks of UTF-32 and UTF-16 text ("Unicode text" from Excel is UTF-16), by encoding."""


def _check_wide_bom(file: CsvFile, start: bytes) -> None:
    """:raises CsvFileError: when ``start`` is a UTF-16 or UTF-32 byte-order mark and the stream reads
    another encoding. UTF-8 would only say a byte does not decode (advising cp1252), and cp1252 or
    latin-1 would read every other character as NUL, under a header no key column is found in."""
    for encoding, marks in _WIDE_BOMS:
        if start.startswith(marks):
            if not codecs.lookup(file.encoding).name.startswith(encoding):
                problem = f"starts with a {encoding.upper()} byte-order mark but its encoding is set to {file.encoding}"
                raise CsvFileError(
                    file.shown, f"{problem}: set `encoding: {encoding}` on the stream (or save the file as UTF-8)"
                )
            return


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, str] | None:
    """The first line (counting from 1) that does not decode, and its offending bytes in hex.

    The CSV reader decodes in chunks, so its own line count says little about
    where a bad byte is: read the file again, a line at a time.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 0
    try:
        with path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):  # noqa: B007 - the last number is used below
                decoder.decode(line)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return max(number, 1), " ".join(f"0x{byte:02x}" for byte in exc.object[exc.start : exc.end])
    except UnicodeError:  # said of the whole file (UTF-16 without its byte-order mark): no bytes to show
        return None
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class Layout:
    """How an existing file is written, so a rewrite keeps it: encoding with or without a BOM, line ends."""

    encoding: str
    lineterminator: str


class RowReader:
    """A file's header and rows as lists of text, read as a stream; a context manager.

    Blank lines come through as ``[]`` so that a rewrite keeps them; a file of
    zero bytes has an empty :attr:`header`.
    """

    def __init__(self, file: CsvFile) -> None:
        self.file = file
        self.header: list[str] = []
        self.layout = Layout(file.encoding, "\r\n")
        self.stat: os.stat_result | None = None
        """The opened file's status: a rewrite checks that nobody replaced the file meanwhile."""
        self._text: io.TextIOWrapper | None = None
        self._reader: Reader | None = None
        self._row_length = 0
        """Characters read of the row under way (lines since the last row ended)."""

    def __enter__(self) -> Self:
        with errors_translated(self.file, lambda: 1):
            raw = self.file.path.open("rb")
            try:
                self._open(raw)
            except BaseException:
                raw.close()
                raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None

    def written_meanwhile(self) -> str | None:
        """How the opened file changed since it was opened, or ``None``: another program writing it in place
        (an export under way, or one that began anew) gives this read a file cut short, or rows of two
        versions. A file replaced whole (written apart, then renamed over it) is no change here: the read
        goes on in the version it opened, complete."""
        if self._text is None or self.stat is None or not stat.S_ISREG(self.stat.st_mode):
            return None
        now = os.fstat(self._text.fileno())
        before = self.stat
        if (now.st_size, now.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
            return None
        return f"{before.st_size:,} bytes when the read began, {now.st_size:,} at its end"

    @property
    def line(self) -> int:
        """The last line read (a quoted cell may span several)."""
        return 0 if self._reader is None else self._reader.line_num

    def rows(self) -> Iterator[list[str]]:
        """The rows after the header, in file order.

        :raises CsvFileError: for a quoted cell that is never closed, or one with text after its closing quote
            (``"Ann"x``): read leniently, the first swallowed every row after it into one cell, silently
        """
        if self._reader is None:
            return
        reader = self._reader
        with errors_translated(self.file, lambda: self.line):
            while True:
                begins = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise _not_csv(self.file, exc, begins) from exc
                self._row_length = 0
                yield row

    def _open(self, raw: io.BufferedReader) -> None:
        self.stat = os.fstat(raw.fileno())
        start = raw.read(4096)
        raw.seek(0)
        has_bom = start.startswith(codecs.BOM_UTF8)
        if has_bom and not self.file.utf8:
            problem = f"starts with a UTF-8 byte-order mark but its encoding is set to {self.file.encoding}"
            raise CsvFileError(self.file.shown, f"{problem}: set `encoding: utf-8` on the stream")
        _check_wide_bom(self.file, start)
        reading = "utf-8-sig" if self.file.utf8 else self.file.encoding
        self.layout = Layout(_writing_encoding(self.file, has_bom), _line_end(start.decode(reading, "replace")))
        self._text = io.TextIOWrapper(raw, encoding=reading, newline="")
        small = stat.S_ISREG(self.stat.st_mode) and self.stat.st_size <= MAX_LINE  # no row of it can be longer
        lines = self._text if small else self._bounded_lines(self._text)
        self._reader = csv.reader(lines, delimiter=self.file.delimiter, quotechar=self.file.quotechar, strict=True)
        try:
            self.header = next(self._reader, [])
        except csv.Error as exc:
            raise _not_csv(self.file, exc, 1) from exc
        self._row_length = 0
        _check_header(self.file, self.header)

    def _bounded_lines(self, text: io.TextIOWrapper) -> Iterator[str]:
        """The lines of ``text``, read at most :data:`MAX_LINE` characters at a time, and no more than that in
        one row: a row of quoted cells each over a line of its own (``"a⏎",``) is as long as it likes, and the
        csv module holds it whole, cell by cell.

        :raises CsvFileError: naming the line where the row begins
        """
        number = begins = 0
        while line := text.readline(MAX_LINE + 1):
            number += 1
            if not self._row_length:
                begins = number
            self._row_length += len(line)
            if self._row_length > MAX_LINE:
                raise CsvFileError(self.file.shown, _too_long(begins, number), line=begins)
            yield line


def _too_long(begins: int, number: int) -> str:
    if number == begins:
        return (
            f"the line is longer than {MAX_LINE:,} characters: not a CSV file Brygga reads (a device, a file of "
            "one endless line?)"
        )
    return (
        f"a quoted cell begins on this line and is never closed (or holds more than {MAX_CELL:,} characters, or "
        f"the row does, over lines {begins:,} to {number:,}): close its quote; a quote inside a quoted cell is "
        'written twice ("")'
    )


def _not_csv(file: CsvFile, exc: csv.Error, begins: int) -> CsvFileError:
    """A row the csv module refuses, named by the line it begins on (the error's own may be far on)."""
    reason = str(exc)
    if reason == "unexpected end of data" or reason.startswith("field larger than field limit"):
        problem = (
            f"a quoted cell begins on this line and is never closed (or holds more than {MAX_CELL:,} "
            'characters): close its quote; a quote inside a quoted cell is written twice ("")'
        )
    elif "expected after" in reason:
        problem = (
            f"not valid CSV ({reason}): a quoted cell must end at its closing quote; a quote inside it is "
            'written twice ("")'
        )
    else:
        problem = f"not valid CSV: {reason}"
    return CsvFileError(file.shown, problem, line=begins)


def new_file_layout(file: CsvFile) -> Layout:
    """How a file Brygga creates is written: the stream's encoding (a BOM only for ``utf-8-sig``), CRLF."""
    return Layout(file.encoding, "\r\n")


def _writing_encoding(file: CsvFile, has_bom: bool) -> str:
    if not file.utf8:
        return file.encoding
    return "utf-8-sig" if has_bom else "utf-8"


def _line_end(start: str) -> str:
    """The line end of a file's first line; CRLF (as RFC 4180 and Excel write) when there is none yet."""
    end = start.find("\n")
    if end == -1:
        return "\r" if "\r" in start else "\r\n"
    return "\r\n" if start[end - 1 : end] == "\r" else "\n"


def _check_header(file: CsvFile, header: list[str]) -> None:
    if len(header) > MAX_COLUMNS:
        raise CsvFileError(
            file.shown,
            f"the header names {len(header):,} columns, more than the {MAX_COLUMNS:,} Brygga reads: is the "
            "delimiter right? Export only the columns the syncs need",
            line=1,
        )
    twice = sorted(name for name, count in Counter(header).items() if name and count > 1)
    if twice:
        raise CsvFileError(
            file.shown, f"the header names {quoted(twice)} more than once: give each column its own name", line=1
        )


def key_columns(file: CsvFile, header: Sequence[str], key: Sequence[str]) -> list[int]:
    """The positions of the key columns in ``header``.

    :raises CsvFileError: naming the missing key column(s) and the columns there are
    """
    if not header:
        raise CsvFileError(file.shown, "the file is empty: it needs a header row naming its columns")
    missing = [name for name in key if name not in header]
    if missing:
        raise CsvFileError(
            file.shown,
            f"the {columns_are(missing, 'key column')} not in the header; its columns are: {quoted(header)}",
            line=1,
        )
    return [header.index(name) for name in key]


def row_key(row: Sequence[str], positions: Sequence[int]) -> str | None:
    """A row's key as text (:func:`~app.records.format_key`), or ``None`` when a key cell is empty."""
    values = [row[at] if at < len(row) else "" for at in positions]
    return None if "" in values else format_key(values)


def row_record(header: Sequence[str], row: Sequence[str]) -> Record:
    """A row as a record: empty and missing cells are ``None``; extra cells and unnamed columns are left out."""
    return {name: (row[at] or None) if at < len(row) else None for at, name in enumerate(header) if name}


def is_blank(row: Sequence[str]) -> bool:
    """A blank line, or a row whose every cell is empty: no record."""
    return not any(row)
