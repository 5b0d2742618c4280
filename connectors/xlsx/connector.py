"""The ``xlsx`` connector: one sheet of a workbook per stream, read with calamine, written with openpyxl.

The folder, the streams and the async surface are every file kind's (:mod:`connectors.table_file.base`):
a sheet is read whole in sheet order, every checkpoint is ``{}``, and a write saves the workbook atomically.
Here a stream's file is a sheet of a workbook, with the row that names its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from connectors.base import StreamInfo, SystemConfig, Write, WriteResult
from connectors.table_file.base import TableFileConnector
from connectors.table_file.messages import columns_are, files_beside, listed, quoted
from connectors.xlsx.config import XlsxStream, XlsxSystem
from connectors.xlsx.reading import SheetScan
from connectors.xlsx.workbook import EmptySheetError, XlsxFile, XlsxFileError, check_writable


class XlsxConnector(TableFileConnector[XlsxFile]):
    """Excel workbooks in a folder, each sheet rewritten atomically.

    A write also refuses a macro-enabled workbook, and waits (:class:`~connectors.xlsx.workbook.WorkbookOpenError`,
    retried later) while the workbook is open in Excel or LibreOffice.
    """

    options_model = XlsxSystem
    file_error = XlsxFileError
    rewrite_note = "a write saves a temporary file here and renames it onto the workbook"

    def _file(self, stream: str) -> XlsxFile:
        options = cast(XlsxStream, self._stream(stream))
        path = self.folder / options.file
        return XlsxFile(path, self._shown(path), options.sheet, options.header_row)

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self._opened: dict[tuple[XlsxFile, tuple[str, ...]], tuple[_Signature, SheetScan]] = {}
        """Sheets a source's ``prepare`` opened, with their file's signature before: calamine loads the whole
        sheet to give its header, and the read that follows takes that scan rather than load it all again
        (a second or so of a large sheet), unless the file changed meanwhile."""

    def _scan(self, file: XlsxFile, key: Sequence[str]) -> SheetScan:
        kept = self._opened.pop((file, tuple(key)), None)
        if kept is not None:
            signature, scan = kept
            if signature is not None and signature == _signature(file.path):
                return scan
            scan.close()
        return SheetScan(file, key)

    async def close(self) -> None:
        """Let go of the sheets a ``prepare`` opened that no read took."""
        opened, self._opened = list(self._opened.values()), {}
        for _, scan in opened:
            scan.close()
        await super().close()

    def _write_batch(
        self, file: XlsxFile, key: Sequence[str], writes: Sequence[Write], new_header: Sequence[str] | None
    ) -> list[WriteResult]:
        # openpyxl (~0.15 s to import) only when a sheet is written: a workbook read as a source never needs it
        from connectors.xlsx.writing import write_batch  # noqa: PLC0415

        return write_batch(file, key, writes, new_header)

    def _prepare_source(self, stream: str) -> StreamInfo:
        file, key = self._existing_file(stream), self._key(stream)
        signature = _signature(file.path)
        scan = SheetScan(file, key)
        try:
            header = scan.open()
        except BaseException:
            scan.close()
            raise
        earlier = self._opened.pop((file, key), None)
        if earlier is not None:
            earlier[1].close()
        self._opened[(file, key)] = (signature, scan)
        return StreamInfo(fields=list(header.names))

    def _prepare_target(self, stream: str, write_fields: list[str]) -> StreamInfo:
        file, key = self._file(stream), self._key(stream)
        check_writable(file)
        self._check_folder(file.path.parent, writing=True)
        self._check_regular(file)
        if not file.path.exists():  # Brygga creates the workbook on the first write
            return self._new_target(stream, file, write_fields, why="the sheet has no header yet")
        scan = SheetScan(file, key)
        try:
            header = scan.open().names
        except EmptySheetError:  # an empty sheet gets the written fields as its header, as a new workbook does
            return self._new_target(stream, file, write_fields, why="the sheet has no header yet")
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

    def _missing(self, file: XlsxFile) -> XlsxFileError:
        there = files_beside(file.path)
        books = [name for name in there if name.lower().endswith((".xlsx", ".xlsm")) and not name.startswith("~$")]
        if not books:
            return XlsxFileError(file.shown, "the workbook does not exist, and its folder has no .xlsx files")
        return XlsxFileError(file.shown, f"the workbook does not exist; the folder has: {listed(books)}")


_Signature = tuple[int, int, int] | None


def _signature(path: Path) -> _Signature:
    """What changes when a file is saved or replaced (its inode, size and time); ``None`` where it is gone."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)
