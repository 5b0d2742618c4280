"""Saving a workbook atomically: a temporary file in the same folder, fsync, then one rename.

Excel, LibreOffice, a backup or a crash at any moment see either the old workbook whole or the new one
whole. What a crash can leave behind is a hidden temporary file (``.prices.xlsx.<random>.brygga-tmp``),
never a half-written ``prices.xlsx``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from pathlib import Path

import openpyxl

from connectors.base import TransientError
from connectors.xlsx.workbook import XlsxFile

TEMP_SUFFIX = ".brygga-tmp"
"""How temporary files end: not ``.xlsx``, so tools that pick up ``*.xlsx`` never see one."""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class FileChangedError(TransientError):
    """The workbook changed while Brygga was rewriting it: the rewrite was dropped, and the batch is retried.

    :param file: the file, as the user knows it
    """

    def __init__(self, file: str) -> None:
        self.file = file
        super().__init__(f"{file}: the workbook changed while Brygga was rewriting it; the writes will be retried")


def file_lock(path: Path) -> threading.Lock:
    """The lock that keeps two writers in this process from rewriting ``path`` at once."""
    real = Path(os.path.realpath(path))
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(real, threading.Lock())


def save_atomically(file: XlsxFile, workbook: openpyxl.Workbook, *, read_from: os.stat_result | None) -> None:
    """Save ``workbook`` to a temporary file beside ``file``, then rename it onto ``file``.

    The temporary file is removed when anything fails, and the file is then as it was. A symbolic link
    is followed: the file it points to is replaced, in that file's folder. The file's permissions are kept.

    :param read_from: the status of the file the workbook was loaded from (``None``: it did not exist)
    :raises FileChangedError: when the file is no longer the one ``read_from`` describes
    :raises OSError: when the folder cannot be written
    """
    target = Path(os.path.realpath(file.path))
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if read_from is not None:
                temp.chmod(stat.S_IMODE(read_from.st_mode))
            workbook.save(out)
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
    """Refuse to replace a workbook that someone else saved (or created) while Brygga was changing it."""
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
