"""The ``csv`` connector: one file per stream in a folder, read whole, rewritten atomically.

A CSV file has no cursor: every read is a full read in file order and every
checkpoint is ``{}``; the engine recognises unchanged rows by their hash.
File work blocks, so it runs in a worker thread (:func:`asyncio.to_thread`)
a batch at a time, and a file is never held in memory whole.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import cast

from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    PermanentError,
    Record,
    StreamInfo,
    SystemConfig,
    Write,
    WriteResult,
)
from connectors.csv.config import CsvStream, CsvSystem
from connectors.csv.files import CsvFile, CsvFileError, RowReader, columns_are, key_columns, quoted
from connectors.csv.reading import RecordScan, wanted_keys
from connectors.csv.writing import write_batch

log = logging.getLogger(__name__)


class CsvConnector(Connector):
    """CSV files in a folder, rewritten atomically."""

    options_model = CsvSystem

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self._new_headers: dict[str, list[str]] = {}
        """Per stream, the fields a sync writes: the columns of a file Brygga creates, in order."""

    @property
    def folder(self) -> Path:
        """The system's folder (``path``, relative to the project folder)."""
        return self.system.root / cast(CsvSystem, self.system.options).path

    async def check(self) -> None:
        """Check that the folder exists and can be read; a folder Brygga may not write in is logged as a warning.

        :raises CsvFileError: when the folder is missing, not a folder, or cannot be read
        """
        if not await asyncio.to_thread(self._check_folder, self.folder, writing=False):
            log.warning("system %s: Brygga may read but not write in %s", self.system.name, self._shown(self.folder))

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """Check the stream's file: for reading, that it has the key columns; for writing, every written field.

        A missing file is fine for writing: the first write creates it, with
        ``write_fields`` in their order as its header.

        :raises CsvFileError: naming the missing folder, file or columns, and listing those there are
        """
        if write_fields is None:
            return await asyncio.to_thread(self._prepare_source, stream)
        return await asyncio.to_thread(self._prepare_target, stream, list(write_fields))

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """The whole file in file order, in batches; empty cells are ``None``; every checkpoint is ``{}``."""
        scan = RecordScan(self._file(stream), self._key(stream))
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
        return await asyncio.to_thread(RecordScan(self._file(stream), self._key(stream)).find, wanted)

    async def scan_keys(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        """Every key in the file, in batches; rows with an empty key cell have none."""
        scan = RecordScan(self._file(stream), self._key(stream))
        try:
            while (keys := await asyncio.to_thread(scan.keys, batch_size)) is not None:
                yield keys
        finally:
            scan.close()

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply creates, updates and deletes by key in one atomic rewrite of the file.

        A create of a key that is there updates its row, an update of a key
        that is not there adds the row, a delete of a key that is not there
        succeeds: a batch repeated after a crash ends the same. An update sets
        the columns its record has and keeps the row's other cells.

        :raises CsvFileError: when the file cannot be read or rewritten at all (no write was applied)
        :raises TransientError: when the rewrite failed for a passing reason (nothing was written)
        """
        if not writes:
            return []
        file, key, header = self._file(stream), self._key(stream), self._new_headers.get(stream)
        return await asyncio.to_thread(write_batch, file, key, list(writes), header)

    # --- blocking halves ---------------------------------------------------------

    def _prepare_source(self, stream: str) -> StreamInfo:
        file = self._file(stream)
        self._check_folder(file.path.parent, writing=False)
        if not file.path.is_file():
            raise self._missing(file)
        with RowReader(file) as reader:
            key_columns(file, reader.header, self._key(stream))
            return StreamInfo(fields=list(reader.header))

    def _prepare_target(self, stream: str, write_fields: list[str]) -> StreamInfo:
        file, key = self._file(stream), self._key(stream)
        self._check_folder(file.path.parent, writing=True)
        header: list[str] = []
        if file.path.exists():
            with RowReader(file) as reader:
                header = reader.header
        if not header:  # Brygga creates the file on the first write
            if missing_key := [name for name in key if name not in write_fields]:
                problem = f"the file does not exist yet, and the sync does not write its key {quoted(missing_key)}"
                raise CsvFileError(file.shown, f"{problem}: map it, so that rows can be found again")
            self._new_headers[stream] = write_fields
            return StreamInfo(fields=list(write_fields))
        key_columns(file, header, key)
        if missing := [name for name in write_fields if name not in header]:
            raise CsvFileError(
                file.shown,
                f"{columns_are(missing)} not in the header; its columns are: {quoted(header)} "
                "(Brygga never adds columns: add it to the file, or stop mapping it)",
                line=1,
            )
        self._new_headers[stream] = write_fields
        return StreamInfo(fields=list(header))

    def _check_folder(self, folder: Path, *, writing: bool) -> bool:
        """Whether Brygga may write in ``folder``.

        :raises CsvFileError: when it is missing, not a folder, cannot be read, or (``writing``) cannot be written
        """
        shown = self._shown(folder)
        if not folder.exists():
            raise CsvFileError(shown, "the folder does not exist: create it, or correct the system's `path`")
        if not folder.is_dir():
            raise CsvFileError(shown, "not a folder: the system's `path` must name a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise CsvFileError(shown, "Brygga may not read this folder: grant it read permission")
        writable = os.access(folder, os.W_OK | os.X_OK)
        if writing and not writable:
            raise CsvFileError(
                shown,
                "Brygga may not write in this folder: a write creates a temporary file here and renames it "
                "onto the target file, so the folder itself must be writable",
            )
        return writable

    def _missing(self, file: CsvFile) -> CsvFileError:
        try:
            there = sorted(entry.name for entry in file.path.parent.iterdir() if entry.is_file())
        except OSError:
            there = []
        csvs = [name for name in there if name.lower().endswith((".csv", ".txt", ".tsv"))] or there
        if not csvs:
            return CsvFileError(file.shown, "the file does not exist, and its folder has no files")
        listed = quoted(csvs[:20]) + (", …" if len(csvs) > 20 else "")
        return CsvFileError(file.shown, f"the file does not exist; the folder has: {listed}")

    # --- options ----------------------------------------------------------------

    def _stream(self, stream: str) -> CsvStream:
        options = self.system.options.streams.get(stream)
        if options is None:
            known = ", ".join(sorted(self.system.options.streams))
            raise PermanentError(f"system {self.system.name} has no stream '{stream}' (its streams: {known})")
        return cast(CsvStream, options)

    def _key(self, stream: str) -> tuple[str, ...]:
        return tuple(self._stream(stream).key)

    def _file(self, stream: str) -> CsvFile:
        options = self._stream(stream)
        path = self.folder / options.file
        return CsvFile(path, self._shown(path), options.encoding, options.delimiter, options.quotechar)

    def _shown(self, path: Path) -> str:
        """``path`` as the user wrote it: relative to the project folder when it is inside."""
        try:
            return str(path.relative_to(self.system.root))
        except ValueError:
            return str(path)
