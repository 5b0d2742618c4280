"""The ``jsonl`` connector kind: each stream is a JSON Lines file in the system's folder.

Reads are whole (a file has no cursor): every run reads every line, and the
engine recognises unchanged records by hash, so nothing is written twice. The
checkpoint is always ``{}``. Writes apply a batch to the file's records by key
and rewrite the file once, atomically. Everything comes from
:mod:`connectors.base`, the connector SDK; nothing from Brygga's ``app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import cast

from brygga_jsonl.config import JsonLinesStream, JsonLinesSystem
from brygga_jsonl.files import file_errors, read_records, rewrite, unwritable
from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    PermanentError,
    Record,
    StreamInfo,
    SystemConfig,
    Write,
    WriteAction,
    WriteResult,
    format_key,
)


class JsonLinesConnector(Connector):
    """A folder of JSON Lines files; a stream is one file, a record one line."""

    options_model = JsonLinesSystem

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self.options = cast(JsonLinesSystem, system.options)
        self.folder = system.root / self.options.path

    async def check(self) -> None:
        """The folder exists and can be listed.

        :raises PermanentError: when it is missing or not a folder
        """
        with file_errors(f"{self.system.name} ({self.options.path})"):
            await asyncio.to_thread(lambda: next(self.folder.iterdir(), None))

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """A source's file must exist; a target's file is created by the first write, when missing.

        :raises PermanentError: when the stream is unknown, or a source's file or any folder is missing
        """
        path = self._path(stream)
        if write_fields is None and not path.exists():
            there = sorted(entry.name for entry in self.folder.glob("*.jsonl"))
            raise PermanentError(f"{self._shown(stream)}: the file does not exist (the folder has: {there})")
        if not path.parent.is_dir():
            raise PermanentError(f"{self._shown(stream)}: the folder does not exist: create it, or correct `path`")
        return StreamInfo()

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """Every record, ``batch_size`` at a time; the checkpoint is always ``{}`` (read everything next time)."""
        records = await self._records(stream)
        for start in range(0, len(records), batch_size):
            yield Batch(records[start : start + batch_size], {})
        if not records:
            yield Batch([], {})

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        """The records with these keys: the file is read whole, as it has no index."""
        wanted = set(keys)
        found = self._by_key(stream, await self._records(stream))
        return {key: record for key, record in found.items() if key in wanted}

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Upsert creates and updates by key, delete deletes, then rewrite the file once.

        A write without its key fails alone (:class:`PermanentError` in its result), and so does one whose
        record holds what JSON cannot (:func:`~brygga_jsonl.files.unwritable`): the file stays valid JSON Lines.

        :raises PermanentError: when the folder is missing or may not be written
        :raises TransientError: when the rewrite failed for a passing reason (nothing was written)
        """
        path = self._path(stream)
        records = self._by_key(stream, await self._records(stream)) if path.exists() else {}
        results = [self._apply(stream, write, records) for write in writes]
        await asyncio.to_thread(rewrite, path, self._shown(stream), list(records.values()))
        return results

    def _apply(self, stream: str, write: Write, records: dict[str, Record]) -> WriteResult:
        if write.action is WriteAction.DELETE:
            records.pop(str(write.target_key), None)
            return WriteResult(write.target_key)
        record = write.record or {}
        key = self._key(stream, record)
        if key is None:
            fields = ", ".join(self._stream(stream).key)
            return WriteResult(None, PermanentError(f"{self._shown(stream)}: the record has no key ({fields})"))
        if (problem := unwritable(record, "")) is not None:
            return WriteResult(write.target_key, PermanentError(f"{self._shown(stream)}: not written: {problem}"))
        created = key not in records
        records[key] = {**records.get(key, {}), **record}
        return WriteResult(key, created=created)

    def reports_created(self, stream: str) -> bool:
        return True

    async def _records(self, stream: str) -> list[Record]:
        return await asyncio.to_thread(read_records, self._path(stream), self._shown(stream))

    def _by_key(self, stream: str, records: list[Record]) -> dict[str, Record]:
        return {key: record for record in records if (key := self._key(stream, record)) is not None}

    def _key(self, stream: str, record: Record) -> str | None:
        values = [record.get(name) for name in self._stream(stream).key]
        return None if any(value is None for value in values) else format_key(values)

    def _stream(self, stream: str) -> JsonLinesStream:
        options = self.options.streams.get(stream)
        if options is None:
            known = ", ".join(sorted(self.options.streams))
            raise PermanentError(f"system {self.system.name} has no stream '{stream}' (its streams: {known})")
        return options

    def _path(self, stream: str) -> Path:
        return self.folder / self._stream(stream).file

    def _shown(self, stream: str) -> str:
        return f"{self.system.name}.{stream} ({Path(self.options.path) / self._stream(stream).file})"
