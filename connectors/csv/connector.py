"""The ``csv`` connector: one file per stream in a folder, read whole, rewritten atomically.

The folder, the streams and the async surface are every file kind's
(:mod:`connectors.table_file.base`); here a stream's file is a CSV file with
its encoding, delimiter and quote character, read as a stream of rows so that a
file is never held in memory whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from connectors.base import StreamInfo, Write, WriteResult
from connectors.csv.config import CsvStream, CsvSystem
from connectors.csv.files import CsvFile, CsvFileError, RowReader, key_columns
from connectors.csv.reading import RecordScan
from connectors.csv.writing import write_batch
from connectors.table_file.base import TableFileConnector
from connectors.table_file.messages import columns_are, files_beside, listed, quoted


class CsvConnector(TableFileConnector[CsvFile]):
    """CSV files in a folder, rewritten atomically."""

    options_model = CsvSystem
    file_error = CsvFileError
    rewrite_note = "a write creates a temporary file here and renames it onto the target file"

    def _file(self, stream: str) -> CsvFile:
        options = cast(CsvStream, self._stream(stream))
        path = self.folder / options.file
        return CsvFile(path, self._shown(path), options.encoding, options.delimiter, options.quotechar)

    def _scan(self, file: CsvFile, key: Sequence[str]) -> RecordScan:
        return RecordScan(file, key)

    def _write_batch(
        self, file: CsvFile, key: Sequence[str], writes: Sequence[Write], new_header: Sequence[str] | None
    ) -> list[WriteResult]:
        return write_batch(file, key, writes, new_header)

    def _prepare_source(self, stream: str) -> StreamInfo:
        file = self._existing_file(stream)
        with RowReader(file) as reader:
            key_columns(file, reader.header, self._key(stream))
            return StreamInfo(fields=list(reader.header))

    def _prepare_target(self, stream: str, write_fields: list[str]) -> StreamInfo:
        file, key = self._file(stream), self._key(stream)
        self._check_folder(file.path.parent, writing=True)
        self._check_regular(file)
        header: list[str] = []
        if file.path.exists():
            with RowReader(file) as reader:
                header = reader.header
        if not header:  # Brygga creates the file on the first write
            return self._new_target(stream, file, write_fields, why="the file does not exist yet")
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

    def _missing(self, file: CsvFile) -> CsvFileError:
        there = files_beside(file.path)
        csvs = [name for name in there if name.lower().endswith((".csv", ".txt", ".tsv"))] or there
        if not csvs:
            return CsvFileError(file.shown, "the file does not exist, and its folder has no files")
        return CsvFileError(file.shown, f"the file does not exist; the folder has: {listed(csvs)}")
