"""Replacing a file atomically: a temporary file in the same folder, fsync, then one rename.

A reader (a tool, Excel, a backup) or a crash at any moment sees either the old file whole or the new one
whole. What a crash can leave behind is a hidden temporary file (``.customers.csv.<random>.brygga-tmp``),
never a partial ``customers.csv``. Every file kind writes through here, so each gets the same guarantees:
one writer per file in this process, the file's permissions kept, and no rename over a file that someone
else changed meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from connectors.base import TransientError

TEMP_SUFFIX = ".brygga-tmp"
"""How temporary files end: not the file's own suffix, so tools that pick up ``*.csv`` or ``*.xlsx`` never see one."""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class FileChangedError(TransientError):
    """The file changed while Brygga was rewriting it: the rewrite was dropped, and the batch is retried.

    :param file: the file, as the user knows it
    :param noun: what the user calls the file (``file``, ``workbook``)
    """

    def __init__(self, file: str, noun: str = "file") -> None:
        self.file = file
        super().__init__(f"{file}: the {noun} changed while Brygga was rewriting it; the writes will be retried")


def file_lock(path: Path) -> threading.Lock:
    """The lock that keeps two writers in this process from rewriting ``path`` (a link: its target) at once."""
    real = Path(os.path.realpath(path))
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(real, threading.Lock())


def temp_path(target: Path) -> Path:
    """A new temporary file's name, next to ``target``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def replace_atomically(
    path: Path,
    shown: str,
    write: Callable[[BinaryIO], None],
    *,
    read_from: os.stat_result | None,
    noun: str = "file",
) -> None:
    """Let ``write`` fill a temporary file beside ``path``, then rename it onto ``path``.

    The temporary file is removed when anything fails, and the file is then as it was. ``write`` may
    stream from the file itself: it is replaced only once ``write`` returns. A symbolic link is followed:
    the file it points to is replaced, in that file's folder. An existing file's permissions are kept.

    :param shown: the file as the user knows it, for messages
    :param write: writes the new content to the (binary) temporary file
    :param read_from: the status of the file the new content comes from (``None``: it did not exist)
    :param noun: what the user calls the file, in :class:`FileChangedError`
    :raises FileChangedError: when the file is no longer the one ``read_from`` describes
    :raises OSError: when the folder cannot be written
    """
    target = Path(os.path.realpath(path))
    temp = temp_path(target)
    # 0o666 so that the umask decides, as for any new file; an existing file's mode is kept below.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if read_from is not None:
                temp.chmod(stat.S_IMODE(read_from.st_mode))
            write(out)
            out.flush()
            os.fsync(out.fileno())
        _check_unchanged(target, read_from, shown, noun)
        temp.replace(target)  # os.replace: atomic on one file system
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _sync_folder(target.parent)


def _check_unchanged(target: Path, read_from: os.stat_result | None, shown: str, noun: str) -> None:
    """Refuse to replace a file that someone else wrote (or created) while the new content was being written."""
    try:
        now = target.stat()
    except FileNotFoundError:
        if read_from is None:
            return
        raise FileChangedError(shown, noun) from None
    if read_from is None or _identity(now) != _identity(read_from):
        raise FileChangedError(shown, noun)


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
