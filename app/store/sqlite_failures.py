"""What a failing SQLite state database means, said with its file and what to do.

SQLite's own words ("unable to open database file", "database is locked", "file is not a database")
name neither the file nor a remedy, and SQLAlchemy wraps them in its internal URL and a link to its
documentation. An operator needs the file, the cause and the next step; for a damaged file, also what
starting afresh costs.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path

DEFAULT_LOCK_WAIT = 30.0
"""How long a connection waits for another process's write lock (the ``busy_timeout`` set on each), unless
the state URL's ``?timeout=`` says otherwise."""

LOST_WITH_IT = (
    "a new one forgets the ID map, so records created before are created again, and the cursors (every record"
    " is read again), the dead letters and the run history"
)

_DAMAGED = ("file is not a database", "malformed", "disk image", "not a database", "unsupported file format")


def path_problem(file: Path) -> str | None:
    """Why ``file`` cannot be a SQLite state database, found without opening it: a folder, a symlink loop,
    a pipe or device, or a folder above it that is a file. A file not there yet is fine: it is created."""
    try:
        info = file.stat()
    except FileNotFoundError:
        return _folder_problem(file)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"the state database {file} is a symlink loop (it leads back to itself): `state` must name a file"
        if exc.errno == errno.ENOTDIR:
            return _folder_problem(file)
        return f"cannot open the state database {file}: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        return f"the state database {file} is a folder: `state` must name a file, such as sqlite:///{file}/brygga.db"
    if not stat.S_ISREG(info.st_mode):
        return f"the state database {file} is not a regular file (a pipe, socket or device): `state` must name a file"
    return None


def _folder_problem(file: Path) -> str | None:
    for folder in file.parents:
        if folder.exists() or folder.is_symlink():
            if folder.is_dir():
                return None
            return f"cannot create the state database {file}: {folder} is not a folder: check the project's `state`"
    return None


def failure_message(text: str, file: str, lock_wait: float = DEFAULT_LOCK_WAIT) -> str | None:
    """What SQLite's ``text`` means for the state database ``file``, and what to do; ``None`` for others."""
    said = f"(SQLite says: {text})"
    folder = Path(file).parent
    if "readonly database" in text or "read-only" in text:
        return (
            f"the state database {file} cannot be written {said}: let the user that runs brygga write to the file"
            f" and to its folder {folder} (SQLite keeps its -wal and -shm files beside it), or mount it read-write"
        )
    if "database is locked" in text or "database table is locked" in text:
        return (
            f"the state database {file} is locked {said}: another process has held a write transaction on it for"
            f" more than {lock_wait:g} s (brygga serve or another run, or a tool such as sqlite3 with a"
            " transaction open): let it finish or stop it, then try again"
        )
    if any(sign in text for sign in _DAMAGED):
        return damaged_message(file, said)
    if "unable to open database file" in text:
        return (
            f"cannot open the state database {file} {said}: check that its folder {folder} exists and that the"
            " user that runs brygga may write in it"
        )
    return None


def damaged_message(file: str, said: str) -> str:
    return (
        f"the state database {file} is damaged {said}: restore it from a backup, or move it away to start"
        f" afresh: {LOST_WITH_IT}"
    )
