"""A stream's workbook: where it is, whether it is one, whether someone has it open, and its errors in the user's words.

Every library exception (``OSError``, calamine's, openpyxl's, ``zipfile``'s) meets :func:`errors_translated` on
its way out of this package and leaves it as a :class:`~app.errors.PermanentError` or
:class:`~app.errors.TransientError`.
"""

from __future__ import annotations

import errno
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import python_calamine

from connectors.base import ConnectorError, PermanentError, TransientError

# Gone, refused or read-only: retrying will not help. Other OS errors (a full disk, a network share that
# hiccups, a file Windows keeps locked) may pass.
_PERMANENT_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EROFS})

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MACRO_ENABLED = frozenset({".xlsm", ".xltm", ".xlam"})


class XlsxFileError(PermanentError):
    """A stream's workbook cannot be used as it is: missing, not a workbook, or not what the stream's options say.

    :param file: the file, as the user knows it (relative to the project folder where possible)
    :param problem: what is wrong and how to fix it
    :param cell: the sheet and cell (``Prices!C1``), where known
    """

    def __init__(self, file: str, problem: str, *, cell: str | None = None) -> None:
        self.file = file
        self.problem = problem
        self.cell = cell
        super().__init__(f"{file}{'' if cell is None else f' ({cell})'}: {problem}")


class EmptySheetError(XlsxFileError):
    """The stream's sheet has no cells at all: a source cannot be read, a target is written like a new one."""


class WorkbookOpenError(TransientError):
    """Someone has the workbook open in Excel or LibreOffice (its lock file is beside it): writes wait for them.

    :param file: the file, as the user knows it
    :param lock: the lock file's name
    """

    def __init__(self, file: str, lock: str) -> None:
        self.file = file
        self.lock = lock
        super().__init__(
            f"{file}: the workbook is open in Excel or LibreOffice (its lock file {lock} is beside it); "
            "Brygga writes it once it is closed, at a later try"
        )


@dataclass(frozen=True)
class XlsxFile:
    """One stream's workbook and the sheet and header row its records are in."""

    path: Path
    shown: str
    """The path as the user knows it, for messages."""
    sheet: str | None
    """The sheet's name; ``None``: the first."""
    header_row: int
    """The row that names the columns, counting from 1."""

    def error(self, problem: str, *, sheet: str | None = None, cell: str | None = None) -> XlsxFileError:
        """An error about this workbook, pointing at ``sheet!cell`` where given."""
        where = None if cell is None else f"{sheet or self.sheet or 'sheet 1'}!{cell}"
        return XlsxFileError(self.shown, problem, cell=where)


def column_letters(index: int) -> str:
    """A column's letters from its index counting from 0: ``0`` → ``A``, ``27`` → ``AB``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: bytes) -> int:
    """A column's index counting from 0 from its letters: ``b"A"`` → ``0``, ``b"AB"`` → ``27``."""
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


def cell_name(row: int, column: int) -> str:
    """A cell's name from its row and column counting from 0: ``(0, 2)`` → ``C1``."""
    return f"{column_letters(column)}{row + 1}"


def lock_file(path: Path) -> Path | None:
    """The lock file Excel (``~$name``) or LibreOffice (``.~lock.name#``) keeps beside an open workbook, if any."""
    for name in (f"~${path.name}", f".~lock.{path.name}#"):
        candidate = path.with_name(name)
        if candidate.exists():
            return candidate
    return None


def check_writable(file: XlsxFile) -> None:
    """Refuse to write a macro-enabled workbook (``.xlsm``): openpyxl would save it without its macros.

    :raises XlsxFileError: naming the file
    """
    if file.path.suffix.lower() in _MACRO_ENABLED:
        raise file.error(
            "Brygga does not write macro-enabled workbooks: rewriting it would lose its macros; "
            "sync into a plain .xlsx workbook instead (reading this one is fine)"
        )


def check_is_workbook(file: XlsxFile) -> None:
    """Refuse a file that is not an .xlsx workbook (a renamed CSV, an old .xls, an empty file), saying what it is.

    :raises XlsxFileError: naming the file and what it seems to be
    :raises OSError: when it cannot be read
    """
    with file.path.open("rb") as raw:
        start = raw.read(512)
    if not start:
        raise file.error("the file is empty (0 bytes), not an Excel workbook: save a workbook as .xlsx here")
    if start.startswith(_OLE2):
        raise file.error(
            "this is an old Excel 97-2003 (.xls) or a password-protected workbook, which Brygga cannot read: "
            "save it as an Excel Workbook (.xlsx) without a password"
        )
    if not start.startswith(_ZIP):
        seems = "text (a CSV file renamed?)" if _is_text(start) else "neither a workbook nor text"
        raise file.error(f"not an Excel workbook (.xlsx): the file is {seems}; save it from Excel as .xlsx")
    try:
        with zipfile.ZipFile(file.path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise file.error(f"not an Excel workbook (.xlsx): a damaged zip archive ({exc})") from exc
    if "xl/workbook.xml" not in names:
        what = "an OpenDocument spreadsheet (.ods)" if "content.xml" in names else "a zip archive"
        raise file.error(f"not an Excel workbook (.xlsx) but {what}: save it from Excel or LibreOffice as .xlsx")
    _check_loaded_whole(file)


MAX_PART_BYTES = 256 << 20
"""The most a part read whole (styles, the workbook's own part, relationships) may hold unpacked: real ones
hold kilobytes; more is a zip bomb, which would end the process as it is read."""
MAX_SHARED_TEXT_BYTES = 2 << 30
MAX_SHARED_TEXTS = 50_000_000
"""The shared texts (every distinct text of the workbook, read whole when it is opened): at most this many,
in at most :data:`MAX_SHARED_TEXT_BYTES` unpacked, as many as the cells a sheet may hold."""
_LOADED_WHOLE = ("xl/styles.xml", "xl/workbook.xml", "[content_types].xml", "xl/_rels/workbook.xml.rels")
_SHARED = "xl/sharedstrings.xml"


def _check_loaded_whole(file: XlsxFile) -> None:
    """Refuse a workbook whose parts read whole at its opening unpack to more than any workbook's do.

    The sizes are measured by unpacking (an archive's own figures can lie), a chunk at a time, and the
    check stops at the limit: a zip bomb costs at most that much reading.

    :raises XlsxFileError: naming the part and the limit
    """
    with zipfile.ZipFile(file.path) as archive:
        for info in archive.infolist():
            name = info.filename.lower()
            if name == _SHARED:
                size, texts = _unpacked(archive, info, MAX_SHARED_TEXT_BYTES, b"si")
                if size > MAX_SHARED_TEXT_BYTES or texts > MAX_SHARED_TEXTS:
                    raise file.error(
                        f"the workbook's shared texts ({info.filename}) are more than any workbook holds (over "
                        f"{MAX_SHARED_TEXTS:,} texts or {MAX_SHARED_TEXT_BYTES >> 20:,} MB unpacked): it is damaged "
                        "or made to exhaust memory; open it in Excel and save it again, or ask its sender for another"
                    )
            elif name in _LOADED_WHOLE or name.endswith(".rels"):
                size, _ = _unpacked(archive, info, MAX_PART_BYTES, None)
                if size > MAX_PART_BYTES:
                    raise file.error(
                        f"the workbook's part {info.filename} unpacks to more than {MAX_PART_BYTES >> 20} MB, which no "
                        "workbook's does: it is damaged or made to exhaust memory; open it in Excel and save it "
                        "again, or ask its sender for another"
                    )


def _unpacked(archive: zipfile.ZipFile, info: zipfile.ZipInfo, most: int, element: bytes | None) -> tuple[int, int]:
    """The bytes ``info`` unpacks to (counted up to just past ``most``) and how many ``element`` starts it holds."""
    size = count = 0
    carry = b""
    with archive.open(info) as part:
        while size <= most and (chunk := part.read(1 << 20)):
            size += len(chunk)
            if element is not None:
                window = carry + chunk
                count += window.count(b"<" + element) + window.count(b":" + element)
                count -= carry.count(b"<" + element) + carry.count(b":" + element)
                carry = window[-len(element) - 1 :]
    return size, count


def _is_text(start: bytes) -> bool:
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError:
        text = start.decode("cp1252", "replace")
    return all(char.isprintable() or char in "\r\n\t" for char in text[:-4])


@contextmanager
def errors_translated(file: XlsxFile) -> Iterator[None]:
    """Turn the exceptions of workbook work on ``file`` into connector errors."""
    try:
        yield
    except ConnectorError:
        raise
    except python_calamine.WorksheetNotFound as exc:
        raise file.error(f"the workbook has no sheet named {file.sheet!r}") from exc
    except (python_calamine.CalamineError, zipfile.BadZipFile, ElementTree.ParseError, KeyError, ValueError) as exc:
        # The file passed check_is_workbook, so it is a zip of workbook parts that one of them spoils.
        problem = f"the workbook cannot be read ({type(exc).__name__}: {exc})"
        raise file.error(f"{problem}: open it in Excel and save it again") from exc
    except OSError as exc:
        raise os_error(file.shown, exc) from exc
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        # calamine gave up on a value (a date cell holding -1E+300): its sheet iterator is spent, so the
        # rows after it cannot be read either, and the whole read fails, saying so
        problem = f"the workbook cannot be read: a cell's value is beyond what its reader takes ({exc})"
        raise file.error(
            f"{problem}; usually a date- or time-formatted cell holds a number far outside Excel's dates: "
            "correct or clear it in Excel and save"
        ) from None


def os_error(shown: str, exc: OSError) -> ConnectorError:
    """An ``OSError`` as a connector error: permanent when the file or folder is gone or refused."""
    reason = exc.strerror or str(exc)
    if exc.errno in _PERMANENT_ERRNOS:
        return XlsxFileError(shown, reason)
    return TransientError(f"{shown}: {reason}")
