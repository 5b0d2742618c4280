"""Config files on disk: which files ``mappings:`` names, and each read as bounded UTF-8 text.

A problem with a file (missing, a folder, a pipe, unreadable, too large, not
UTF-8) is an issue at its first line, or at the ``mappings:`` entry that
names it: never an exception, and never an unbounded read. A config file is
small text, so one over :data:`MAX_FILE_BYTES` is refused before it is read,
and a pipe or device, which may never end, is not opened at all.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.config.base import Location
from app.config.issues import START, ConfigIssue, Mark
from app.config.yaml_source import SourceMap

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest config file read: ample for text someone writes, short of a memory problem."""

_WIDE_ENCODINGS = (
    (re.compile(rb"\x00\x00\xfe\xff|\xff\xfe\x00\x00|\x00\x00\x00[^\x00]|[^\x00]\x00\x00\x00"), "UTF-32"),
    (re.compile(rb"\xfe\xff|\xff\xfe|\x00[^\x00]|[^\x00]\x00"), "UTF-16"),
)
"""How YAML itself tells the encoding of a stream from its first bytes (YAML 1.2, 5.2): a byte order mark,
or the NUL bytes around a first ASCII character. UTF-32 first: its mark starts as UTF-16's does."""


def read_config_text(file: Path, issues: list[ConfigIssue]) -> str | None:
    """The text of ``file``, or ``None`` with an issue saying what is wrong with it."""
    problem = _file_problem(file)
    if problem is None:
        try:
            problem, raw = _read_regular(file)
        except OSError as exc:
            problem = _os_problem(exc)
    if problem is None and (wide := _wide_encoding(raw)) is not None:
        problem = f"the file is {wide} text: save it as UTF-8"
    if problem is not None:
        issues.append(ConfigIssue(file, START, problem))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.append(_encoding_issue(file, raw, exc))
        return None


def _file_problem(file: Path) -> str | None:
    """What stops ``file`` from being read as a config file, found without opening it."""
    try:
        info = file.stat()
    except FileNotFoundError:
        return "file not found: create it, or pass -c PATH"
    except OSError as exc:
        return _os_problem(exc)
    if stat.S_ISDIR(info.st_mode):
        return "this is a folder, not a file: name the file, such as brygga.yaml or mappings/*.yaml"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device): name a file"
    if info.st_size > MAX_FILE_BYTES:
        return _size_problem(info.st_size)
    return None


def _read_regular(file: Path) -> tuple[str | None, bytes]:
    """The bytes of ``file``, up to one past the limit, if it is a regular file still: it may have been
    replaced since it was looked at, and opening a pipe nobody writes would wait for ever (opened without
    waiting, then looked at again through what was opened).

    :raises OSError: when it cannot be opened or read
    """
    descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return "not a regular file (a pipe, socket or device): name a file", b""
        raw = stream.read(MAX_FILE_BYTES + 1)  # the file may have grown since it was looked at
    return (_size_problem(len(raw)) if len(raw) > MAX_FILE_BYTES else None), raw


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "cannot read the file: permission denied: let the user that runs brygga read it"
    return f"cannot read the file: {exc.strerror or exc}"


def _size_problem(size: int) -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return f"the file is {size:,} bytes, more than the {limit} MiB a config file may be: is it the right file?"


def _wide_encoding(raw: bytes) -> str | None:
    """``UTF-16`` or ``UTF-32`` for text in one of them, by its first bytes; ``None`` for any other."""
    return next((name for marks, name in _WIDE_ENCODINGS if marks.match(raw)), None)


def _encoding_issue(file: Path, raw: bytes, exc: UnicodeDecodeError) -> ConfigIssue:
    message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the file as UTF-8"
    return ConfigIssue(file, _byte_mark(raw, exc.start), message)


def _byte_mark(raw: bytes, offset: int) -> Mark:
    """The line and column of the byte at ``offset`` in ``raw``, whose text before it is UTF-8."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    before = raw[line_start:offset].decode("utf-8-sig")
    return Mark(raw.count(b"\n", 0, offset) + 1, len(before) + 1)


def sync_files(
    project_file: Path, patterns: Any, origin: SourceMap, issues: list[ConfigIssue]
) -> list[tuple[Path, Location]]:
    """The sync files that ``mappings:`` names, each with the location of the entry that names it.

    Patterns are relative to the project's folder and stay inside it: a file reached through a symlink
    that leads outside it is refused. A glob matches files only (not folders, nor the project file
    itself); a plain name must be a file that exists.
    """
    if not isinstance(patterns, list):
        return []  # the project model reports it
    found: dict[Path, Location] = {}
    for index, pattern in enumerate(patterns):
        location: Location = ("mappings", index)
        if not isinstance(pattern, str):
            continue
        problem = _pattern_problem(project_file, pattern)
        if problem is None:
            try:
                matches = _matches(project_file, pattern)
            except TooManyMatches:
                problem = (
                    f"'{pattern}' matches more than {MAX_MATCHES:,} files (or walks more than {MAX_FOLDERS:,}"
                    " folders): is it the right pattern? name the folder the sync files are in, such as"
                    " mappings/*.yaml"
                )
        if problem is None:
            problem = _outside_problem(project_file.parent, pattern, matches)
        if problem is not None:
            issues.append(origin.issue(location, f"mappings[{index}]: {problem}"))
            continue
        for match in matches:
            found.setdefault(match, location)
    return list(found.items())


def _pattern_problem(project_file: Path, pattern: str) -> str | None:
    root = project_file.parent
    if not pattern.strip():
        return "an empty pattern: write one such as mappings/*.yaml"
    if Path(pattern).is_absolute() or Path(os.path.normpath(pattern)).parts[:1] == (os.pardir,):
        return (
            f"'{pattern}' is outside the project's folder ({root}): sync files live in it or in a folder"
            " below it; write a path relative to it, such as mappings/*.yaml"
        )
    if glob.has_magic(pattern):
        return _glob_problem(pattern)
    full = root / pattern
    if full.is_dir():
        return f"'{pattern}' is a folder: name the files in it, such as {pattern.rstrip('/')}/*.yaml"
    if not full.exists():
        return f"file not found: {pattern} (paths are relative to this file)"
    if full.resolve() == project_file.resolve():
        return f"'{pattern}' is this project file itself, not a sync file: list sync files, such as mappings/*.yaml"
    return None


def _glob_problem(pattern: str) -> str | None:
    """A ``[`` that no ``]`` closes matches nothing, silently: said here, since no sync would be found."""
    unclosed = re.search(r"\[(?![^\]]*\])", pattern)
    if unclosed is None:
        return None
    return (
        f"'{pattern}' opens a set of characters with '[' at {unclosed.start() + 1} that no ']' closes: "
        "close it, or write [[] for the character [ itself"
    )


def _outside_problem(root: Path, pattern: str, matches: list[Path]) -> str | None:
    """A match that is a symlink to a file outside the project's folder: the patterns stay inside it."""
    inside = os.path.realpath(root)
    for match in matches:
        real = os.path.realpath(match)
        if os.path.commonpath([inside, real]) != inside:
            shown = match.relative_to(root) if match.is_relative_to(root) else match
            return (
                f"'{shown}' (matched by '{pattern}') leads through a symlink to {real}, outside the project's"
                f" folder ({root}): sync files live in it; copy the file in, or link to one inside it"
            )
    return None


MAX_MATCHES = 10_000
"""The most files one ``mappings:`` pattern may match: far more syncs than a project has, short of a
pattern that walks a whole disk."""

MAX_FOLDERS = 100_000
"""The most folders one ``**`` may walk through, for the same reason."""


class TooManyMatches(Exception):
    """A pattern matched more than :data:`MAX_MATCHES` files."""


def _matches(project_file: Path, pattern: str) -> list[Path]:
    """The files ``pattern`` matches, as :func:`glob.glob` with ``recursive=True`` would find them, except
    that ``**`` does not go into folders through symlinks: a link to ``.`` or to a parent folder would
    make that walk endless (or repeat every file), and a folder may link to one outside the project.

    :raises TooManyMatches: past :data:`MAX_MATCHES` files
    """
    full = os.path.join(project_file.parent, pattern)
    if not glob.has_magic(pattern):
        return [Path(full).absolute()]
    root = Path(project_file.parent).absolute()
    parts = [part for part in Path(os.path.normpath(pattern)).parts if part != os.curdir]
    found: list[Path] = []
    for match in _expand(root, parts):
        if match != project_file.absolute() and not match.is_dir():
            found.append(match)
            if len(found) > MAX_MATCHES:
                raise TooManyMatches
    return sorted(set(found))


def _expand(folder: Path, parts: list[str]) -> Iterator[Path]:
    """The paths below ``folder`` that ``parts`` (a pattern's parts) match."""
    if not parts:
        yield folder
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        for below in _folders_below(folder):
            yield from _expand(below, rest)
            if not rest:  # a last ``**`` matches the files in each folder too
                yield from (below / name for name in _names(below) if not name.startswith("."))
    elif glob.has_magic(head):
        for name in _names(folder):
            if (not name.startswith(".") or head.startswith(".")) and fnmatch.fnmatchcase(name, head):
                yield from _expand(folder / name, rest)
    elif os.path.lexists(folder / head):
        yield from _expand(folder / head, rest)


def _folders_below(folder: Path) -> Iterator[Path]:
    """``folder`` and every folder below it, not going through symlinks to folders nor into hidden ones.

    :raises TooManyMatches: past :data:`MAX_FOLDERS` folders
    """
    if not folder.is_dir():
        return
    pending = [folder]
    walked = 0
    while pending:
        current = pending.pop()
        walked += 1
        if walked > MAX_FOLDERS:
            raise TooManyMatches
        yield current
        try:
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in reversed(entries):
            if not entry.name.startswith(".") and _real_folder(entry):
                pending.append(Path(entry.path))


def _real_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _names(folder: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in folder.iterdir())
    except OSError:
        return []
