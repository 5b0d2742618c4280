"""The ``xlsx`` connector: one sheet of a workbook per stream, read with calamine, written with openpyxl.

A sheet has no cursor: every read is a full read in sheet order and every checkpoint is ``{}`` (as for
``csv``); the engine recognises unchanged rows by their hash. Workbook work blocks, so it runs in a worker
thread (:func:`asyncio.to_thread`) a batch at a time.
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
from connectors.xlsx.config import XlsxStream, XlsxSystem
from connectors.xlsx.reading import SheetScan, wanted_keys
from connectors.xlsx.workbook import (
    EmptySheetError,
    XlsxFile,
    XlsxFileError,
    check_writable,
    columns_are,
    quoted,
)
from connectors.xlsx.writing import write_batch

log = logging.getLogger(__name__)


class XlsxConnector(Connector):
    """Excel workbooks in a folder, each sheet rewritten atomically."""

    options_model = XlsxSystem

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self._new_headers: dict[str, list[str]] = {}
        """Per stream, the fields a sync writes: the columns of a sheet Brygga creates, in order."""

    @property
    def folder(self) -> Path:
        """The system's folder (``path``, relative to the project folder)."""
        return self.system.root / cast(XlsxSystem, self.system.options).path

    async def check(self) -> None:
        """Check that the folder exists and can be read; a folder Brygga may not write in is logged as a warning.

        :raises XlsxFileError: when the folder is missing, not a folder, or cannot be read
        """
        if not await asyncio.to_thread(self._check_folder, self.folder, writing=False):
            log.warning("system %s: Brygga may read but not write in %s", self.system.name, self._shown(self.folder))

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """Check the stream's sheet: for reading, that it has the key columns; for writing, every written field.

        A missing workbook is fine for writing: the first write creates it, with ``write_fields`` in their
        order as its header.

        :raises XlsxFileError: naming the missing folder, file, sheet or columns, and listing those there are
        """
        if write_fields is None:
            return await asyncio.to_thread(self._prepare_source, stream)
        return await asyncio.to_thread(self._prepare_target, stream, list(write_fields))

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """The whole sheet in sheet order, in batches; empty cells are ``None``; every checkpoint is ``{}``."""
        scan = SheetScan(self._file(stream), self._key(stream))
        try:
            while (records := await asyncio.to_thread(scan.records, batch_size)) is not None:
                yield Batch(records, {})
        finally:
            scan.close()

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        """The rows with these keys, found by reading the sheet; none when the workbook is not there (yet)."""
        wanted = wanted_keys(keys, len(self._key(stream)))
        if not wanted:
            return {}
        return await asyncio.to_thread(SheetScan(self._file(stream), self._key(stream)).find, wanted)

    async def scan_keys(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        """Every key in the sheet, in batches; rows with an empty key cell have none."""
        scan = SheetScan(self._file(stream), self._key(stream))
        try:
            while (keys := await asyncio.to_thread(scan.keys, batch_size)) is not None:
                yield keys
        finally:
            scan.close()

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply creates, updates and deletes by key in one atomic save of the workbook.

        A create of a key that is there updates its row, an update of a key that is not there adds the
        row, a delete of a key that is not there succeeds: a batch repeated after a crash ends the same.
        An update sets the columns its record has and keeps the row's other cells.

        :raises WorkbookOpenError: when the workbook is open in Excel or LibreOffice (retried later)
        :raises XlsxFileError: when the workbook cannot be read or saved at all (no write was applied)
        :raises TransientError: when the save failed for a passing reason (nothing was written)
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
        scan = SheetScan(file, self._key(stream))
        try:
            return StreamInfo(fields=list(scan.open().names))
        finally:
            scan.close()

    def _prepare_target(self, stream: str, write_fields: list[str]) -> StreamInfo:
        file, key = self._file(stream), self._key(stream)
        check_writable(file)
        self._check_folder(file.path.parent, writing=True)
        if not file.path.exists():  # Brygga creates the workbook on the first write
            return self._new_target(stream, file, key, write_fields)
        scan = SheetScan(file, key)
        try:
            header = scan.open().names
        except EmptySheetError:  # an empty sheet gets the written fields as its header, as a new workbook does
            return self._new_target(stream, file, key, write_fields)
        finally:
            scan.close()
        if missing := [name for name in write_fields if name not in header]:
            raise XlsxFileError(
                file.shown,
                f"{columns_are(missing)} not in the header (row {file.header_row}) of sheet {scan.sheet_name!r}; "
                f"its columns are: {quoted(header)} "
                "(Brygga never adds columns: add it to the sheet, or stop mapping it)",
            )
        self._new_headers[stream] = write_fields
        return StreamInfo(fields=list(header))

    def _new_target(self, stream: str, file: XlsxFile, key: Sequence[str], write_fields: list[str]) -> StreamInfo:
        """A workbook or sheet that the first write fills: its header will be ``write_fields``, the key among them."""
        if missing_key := [name for name in key if name not in write_fields]:
            problem = f"the sheet has no header yet, and the sync does not write its key {quoted(missing_key)}"
            raise XlsxFileError(file.shown, f"{problem}: map it, so that rows can be found again")
        self._new_headers[stream] = write_fields
        return StreamInfo(fields=list(write_fields))

    def _check_folder(self, folder: Path, *, writing: bool) -> bool:
        """Whether Brygga may write in ``folder``.

        :raises XlsxFileError: when it is missing, not a folder, cannot be read, or (``writing``) cannot be written
        """
        shown = self._shown(folder)
        if not folder.exists():
            raise XlsxFileError(shown, "the folder does not exist: create it, or correct the system's `path`")
        if not folder.is_dir():
            raise XlsxFileError(shown, "not a folder: the system's `path` must name a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise XlsxFileError(shown, "Brygga may not read this folder: grant it read permission")
        writable = os.access(folder, os.W_OK | os.X_OK)
        if writing and not writable:
            raise XlsxFileError(
                shown,
                "Brygga may not write in this folder: a write saves a temporary file here and renames it "
                "onto the workbook, so the folder itself must be writable",
            )
        return writable

    def _missing(self, file: XlsxFile) -> XlsxFileError:
        try:
            there = sorted(entry.name for entry in file.path.parent.iterdir() if entry.is_file())
        except OSError:
            there = []
        books = [name for name in there if name.lower().endswith((".xlsx", ".xlsm")) and not name.startswith("~$")]
        if not books:
            return XlsxFileError(file.shown, "the workbook does not exist, and its folder has no .xlsx files")
        listed = quoted(books[:20]) + (", …" if len(books) > 20 else "")
        return XlsxFileError(file.shown, f"the workbook does not exist; the folder has: {listed}")

    # --- options ----------------------------------------------------------------

    def _stream(self, stream: str) -> XlsxStream:
        options = self.system.options.streams.get(stream)
        if options is None:
            known = ", ".join(sorted(self.system.options.streams))
            raise PermanentError(f"system {self.system.name} has no stream '{stream}' (its streams: {known})")
        return cast(XlsxStream, options)

    def _key(self, stream: str) -> tuple[str, ...]:
        return tuple(self._stream(stream).key)

    def _file(self, stream: str) -> XlsxFile:
        options = self._stream(stream)
        path = self.folder / options.file
        return XlsxFile(path, self._shown(path), options.sheet, options.header_row)

    def _shown(self, path: Path) -> str:
        """``path`` as the user wrote it: relative to the project folder when it is inside."""
        try:
            return str(path.relative_to(self.system.root))
        except ValueError:
            return str(path)
