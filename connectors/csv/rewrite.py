"""Rewriting a file atomically: a temporary file in the same folder, fsync, then one rename.

A reader, or a crash at any moment, sees either the old file whole or the new
one whole. What a crash can leave behind is a hidden temporary file
(``.customers.csv.<random>.brygga-tmp``), never a partial ``customers.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from connectors.base import TransientError
from connectors.csv.files import CsvFile, Layout

TEMP_SUFFIX = ".brygga-tmp"
"""How temporary files end: not ``.csv``, so tools that pick up ``*.csv`` never see one."""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class FileChangedError(TransientError):
    """The file changed while Brygga was rewriting it: the rewrite was dropped, and the batch is retried.

    :param file: the file, as the user knows it
    """

    def __init__(self, file: str) -> None:
        self.file = file
        super().__init__(f"{file}: the file changed while Brygga was rewriting it; the writes will be retried")


def file_lock(path: Path) -> threading.Lock:
    """The lock that keeps two writers in this process from rewriting ``path`` at once."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def temp_path(target: Path) -> Path:
    """A new temporary file's name, next to ``target``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def replace_atomically(
    file: CsvFile,
    layout: Layout,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    read_from: os.stat_result | None,
) -> None:
    """Write ``header`` and ``rows`` to a temporary file, then rename it onto ``file``.

    The temporary file is removed when anything fails, and the file is then
    as it was. ``rows`` may stream from the file itself: it is replaced only
    once they are all written. A symbolic link is followed: the file it points
    to is replaced, in that file's folder.

    :param read_from: the status of the file that ``rows`` come from (``None``: it did not exist)
    :raises FileChangedError: when the file is no longer the one ``read_from`` describes
    :raises OSError: when the folder cannot be written
    """
    target = Path(os.path.realpath(file.path))
    temp = temp_path(target)
    # 0o666 so that the umask decides, as for any new file; an existing file's mode is kept below.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding=layout.encoding, newline="") as out:
            if read_from is not None:
                temp.chmod(stat.S_IMODE(read_from.st_mode))
            writer = csv.writer(
                out, delimiter=file.delimiter, quotechar=file.quotechar, lineterminator=layout.lineterminator
            )
            writer.writerow(header)
            writer.writerows(rows)
            out.flush()
            os.fsync(out.fileno())
        _check_unchanged(target, file.shown, read_from)
        temp.replace(target)  # os.replace: atomic on one file system
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _sync_folder(target.parent)


def _check_unchanged(target: Path, shown: str, read_from: os.stat_result | None) -> None:
    """Refuse to replace a file that someone else wrote (or created) while the rows were being copied."""
    try:
        now = target.stat()
    except FileNotFoundError:
        if read_from is None:
            return
        raise FileChangedError(shown) from None
    if read_from is None or _identity(now) != _identity(read_from):
        raise FileChangedError(shown)


def _identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; some platforms cannot open a folder, and the rename stands anyway."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
