"""The skeleton of a file kind's connector: a folder, one file per stream, read whole and rewritten by key.

A file has no cursor: every read is a full read in file order and every checkpoint is ``{}``; the engine
recognises unchanged rows by their hash. File work blocks, so it runs in a worker thread
(:func:`asyncio.to_thread`) a batch at a time. A kind (``csv``, ``xlsx``) says how its stream's file is
named and opened, how it is scanned, how a batch is written, and what its ``prepare`` checks; the folder,
the streams' options, and the async surface over the blocking halves are the same for each and live here.
"""

from __future__ import annotations

import asyncio
import logging
import os
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar, cast

from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    PermanentError,
    Record,
    StreamInfo,
    StreamOptions,
    SystemConfig,
    Write,
    WriteResult,
    format_key,
    parse_key,
)
from connectors.table_file.config import FolderSystem
from connectors.table_file.messages import quoted


class TableFile(Protocol):
    """Where a stream's file is: its path, and that path as the user knows it."""

    @property
    def path(self) -> Path: ...

    @property
    def shown(self) -> str: ...


class RowScan(Protocol):
    """One pass over a file's rows, in file order; each method blocks."""

    def records(self, size: int) -> list[Record] | None:
        """The next (at most) ``size`` records, or ``None`` at the end."""

    def keys(self, size: int) -> list[str] | None:
        """The keys of the next (at most) ``size`` rows, rows without a key left out; ``None`` at the end."""

    def find(self, wanted: dict[str, str]) -> dict[str, Record]:
        """The records whose key text is in ``wanted``, by the caller's text; reads the whole file, then closes."""

    def close(self) -> None: ...


FileT = TypeVar("FileT", bound=TableFile)


class TableFileConnector(Connector, Generic[FileT]):
    """Files in a folder, one per stream, each rewritten atomically by key."""

    file_error: ClassVar[type[PermanentError]]
    """The kind's error about a file or folder, made as ``file_error(shown, problem)``."""
    rewrite_note: ClassVar[str]
    """Why the folder must be writable, in the kind's words (how a write replaces the file)."""

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self._new_headers: dict[str, list[str]] = {}
        """Per stream, the fields a sync writes: the columns of a file Brygga creates, in order."""

    @property
    def folder(self) -> Path:
        """The system's folder (``path``, relative to the project folder)."""
        return self.system.root / cast(FolderSystem, self.system.options).path

    async def check(self) -> None:
        """Check that the folder exists and can be read; a folder Brygga may not write in is logged as a warning.

        :raises PermanentError: (the kind's file error) when the folder is missing, not a folder, or cannot be read
        """
        if not await asyncio.to_thread(self._check_folder, self.folder, writing=False):
            log = logging.getLogger(type(self).__module__)  # the kind's logger, as each kind's own module had
            log.warning("system %s: Brygga may read but not write in %s", self.system.name, self._shown(self.folder))

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """Check the stream's file: for reading, that it has the key columns; for writing, every written field.

        A missing file is fine for writing: the first write creates it, with ``write_fields`` in their
        order as its header.

        :raises PermanentError: (the kind's file error) naming the missing folder, file or columns, and
            listing those there are
        """
        if write_fields is None:
            return await asyncio.to_thread(self._prepare_source, stream)
        return await asyncio.to_thread(self._prepare_target, stream, list(write_fields))

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """The whole file in file order, in batches; empty cells are ``None``; every checkpoint is ``{}``."""
        scan = self._scan(self._file(stream), self._key(stream))
        try:
            while (records := await asyncio.to_thread(scan.records, batch_size)) is not None:
                yield Batch(records, {})
        finally:
            scan.close()

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        """The rows with these keys, found by reading the file; none when the file is not there (yet)."""
        wanted = wanted_keys(keys, len(self._key(stream)))
        if not wanted:
            return {}
        return await asyncio.to_thread(self._scan(self._file(stream), self._key(stream)).find, wanted)

    async def scan_keys(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        """Every key in the file, in batches; rows with an empty key cell have none."""
        scan = self._scan(self._file(stream), self._key(stream))
        try:
            while (keys := await asyncio.to_thread(scan.keys, batch_size)) is not None:
                yield keys
        finally:
            scan.close()

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply creates, updates and deletes by key in one atomic rewrite of the file.

        A create of a key that is there updates its row, an update of a key that is not there adds the
        row, a delete of a key that is not there succeeds: a batch repeated after a crash ends the same.
        An update sets the columns its record has and keeps the row's other cells.

        :raises PermanentError: (the kind's file error) when the file cannot be read or rewritten at all
            (no write was applied)
        :raises TransientError: when the rewrite failed for a passing reason (nothing was written)
        """
        if not writes:
            return []
        file, key, header = self._file(stream), self._key(stream), self._new_headers.get(stream)
        return await asyncio.to_thread(self._write_batch, file, key, list(writes), header)

    # --- what a kind says (each blocks) ------------------------------------------

    @abstractmethod
    def _file(self, stream: str) -> FileT:
        """The stream's file, with the options it is read and written with."""

    @abstractmethod
    def _scan(self, file: FileT, key: Sequence[str]) -> RowScan:
        """A pass over ``file``'s rows; it opens the file on its first call."""

    @abstractmethod
    def _write_batch(
        self, file: FileT, key: Sequence[str], writes: Sequence[Write], new_header: Sequence[str] | None
    ) -> list[WriteResult]:
        """Apply ``writes`` to ``file`` in one atomic rewrite; one result per write, in order."""

    @abstractmethod
    def _prepare_source(self, stream: str) -> StreamInfo:
        """Check the stream's file for reading; its fields."""

    @abstractmethod
    def _prepare_target(self, stream: str, write_fields: list[str]) -> StreamInfo:
        """Check the stream's file for writing ``write_fields``; its fields."""

    @abstractmethod
    def _missing(self, file: FileT) -> PermanentError:
        """The error for a stream's file that is not there, listing the files of its kind that are."""

    # --- shared halves -----------------------------------------------------------

    def _existing_file(self, stream: str) -> FileT:
        """The stream's file, for reading: its folder can be read and the file is there.

        :raises PermanentError: (the kind's file error) naming the missing or unreadable folder or file
        """
        file = self._file(stream)
        self._check_folder(file.path.parent, writing=False)
        self._check_regular(file)
        if not file.path.is_file():
            raise self._missing(file)
        return file

    def _check_regular(self, file: FileT) -> None:
        """A stream's file, where there is one, is a regular file (or a link to one).

        A folder, a pipe or a device (``/dev/zero``) by the file's name would be read for ever or hang the
        run: opening a pipe waits for a writer, and a device never ends.

        :raises PermanentError: (the kind's file error) naming what it is instead
        """
        path = file.path
        if not path.exists() or path.is_file():
            return
        what = "a folder" if path.is_dir() else "a pipe, a device or a socket, not a file"
        raise self.file_error(
            file.shown, f"this is {what}: the stream's `file` must name a regular file (or where to create one)"
        )

    def _new_target(self, stream: str, file: FileT, write_fields: list[str], *, why: str) -> StreamInfo:
        """A file that the first write fills: its header will be ``write_fields``, the key among them.

        :param why: why the file has no header yet (``the file does not exist yet``)
        """
        if missing_key := [name for name in self._key(stream) if name not in write_fields]:
            problem = f"{why}, and the sync does not write its key {quoted(missing_key)}"
            raise self.file_error(file.shown, f"{problem}: map it, so that rows can be found again")
        self._new_headers[stream] = write_fields
        return StreamInfo(fields=list(write_fields))

    def _check_folder(self, folder: Path, *, writing: bool) -> bool:
        """Whether Brygga may write in ``folder``.

        :raises PermanentError: (the kind's file error) when it is missing, not a folder, cannot be read,
            or (``writing``) cannot be written
        """
        shown = self._shown(folder)
        if not folder.exists():
            raise self.file_error(shown, "the folder does not exist: create it, or correct the system's `path`")
        if not folder.is_dir():
            raise self.file_error(shown, "not a folder: the system's `path` must name a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise self.file_error(shown, "Brygga may not read this folder: grant it read permission")
        writable = os.access(folder, os.W_OK | os.X_OK)
        if writing and not writable:
            problem = f"Brygga may not write in this folder: {self.rewrite_note}"
            raise self.file_error(shown, f"{problem}, so the folder itself must be writable")
        return writable

    def _stream(self, stream: str) -> StreamOptions:
        options = self.system.options.streams.get(stream)
        if options is None:
            known = ", ".join(sorted(self.system.options.streams))
            raise PermanentError(f"system {self.system.name} has no stream '{stream}' (its streams: {known})")
        return options

    def _key(self, stream: str) -> tuple[str, ...]:
        return tuple(self._stream(stream).key)

    def _shown(self, path: Path) -> str:
        """``path`` as the user wrote it: relative to the project folder when it is inside."""
        try:
            return str(path.relative_to(self.system.root))
        except ValueError:
            return str(path)


def wanted_keys(keys: Sequence[str], width: int) -> dict[str, str]:
    """Keys asked for, by their normal text (a composite key's JSON re-spelt as :func:`format_key` does).

    Text that is no key of ``width`` parts matches no row.
    """
    wanted: dict[str, str] = {}
    for text in keys:
        try:
            wanted[format_key(parse_key(text, width))] = text
        except ValueError:
            continue
    return wanted
