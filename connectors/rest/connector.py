"""The ``rest`` connector class: any JSON HTTP API, described in YAML.

One instance per system, shared by every sync that uses it: one HTTP client,
one ``rate_limit`` budget, one bound on requests in flight. The work is done
by small parts: :mod:`~connectors.rest.client` (httpx, credentials, limits,
retries), :mod:`~connectors.rest.reading`, :mod:`~connectors.rest.writing`
and :mod:`~connectors.rest.matching`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
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
from connectors.rest.answers import json_body
from connectors.rest.client import RestClient
from connectors.rest.config import OffsetPagination, PagePagination, RestStream, RestSystem
from connectors.rest.errors import NotFoundHttpError
from connectors.rest.limits import Clock
from connectors.rest.matching import Ambiguities, Matcher
from connectors.rest.paging import Params
from connectors.rest.paths import object_in, record_in, request_path, shown_text
from connectors.rest.reading import StreamRead
from connectors.rest.retrying import RequestRetryPolicy
from connectors.rest.writing import StreamWriter


class RestConnector(Connector):
    """A JSON HTTP API, described in YAML."""

    options_model = RestSystem
    assigns_keys = True

    clock: Clock = Clock()
    """Where the time is read and waits happen (tests set their own before :meth:`open`)."""
    retry_policy: RequestRetryPolicy = RequestRetryPolicy()
    """How requests are retried (tests set their own before :meth:`open`)."""

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self.options = cast(RestSystem, system.options)
        self._client: RestClient | None = None
        self._ambiguities = Ambiguities()

    # --- connection --------------------------------------------------------------------

    async def open(self) -> None:
        """Make the HTTP client (connections open on first use; an OAuth2 token is fetched on first use)."""
        _ = self.client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def client(self) -> RestClient:
        """The HTTP client, made on first use when :meth:`open` was not called."""
        if self._client is None:
            self._client = RestClient(self.system.name, self.options, self.clock, self.retry_policy)
        return self._client

    async def check(self) -> None:
        """One ``GET`` of the first stream's path, asking for the smallest page the pagination allows.

        It proves the address, the credentials (an OAuth2 token is fetched) and the path; the body is not read.
        """
        name, stream = next(iter(self.options.streams.items()))
        params: Params = dict(stream.params)
        if isinstance(stream.pagination, OffsetPagination):
            params |= {stream.pagination.param: 0, stream.pagination.limit_param: 1}
        elif isinstance(stream.pagination, PagePagination) and stream.pagination.size_param is not None:
            params |= {stream.pagination.param: stream.pagination.start, stream.pagination.size_param: 1}
        await self.client.request("GET", stream.path, f"{self._where(name)}: checking", params=params)

    # --- streams -----------------------------------------------------------------------

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """Check the stream's paths against its key; for writing, that it has ``write``.

        No request is made: an API has no list of fields to check, and the first read or
        write shows a wrong path at once.
        """
        options = self._stream(stream)
        problems = [problem.message for problem in options.path_problems()]
        if write_fields is not None and options.write is None:
            problems.append("the stream has no `write`: add `create`, `update` and `delete` requests to write to it")
        if problems:
            raise PermanentError(f"{self._where(stream)}: " + "; ".join(problems))
        return StreamInfo()

    def _stream(self, stream: str) -> RestStream:
        options = self.options.streams.get(stream)
        if options is None:
            there = ", ".join(sorted(self.options.streams))
            raise PermanentError(f"system {self.system.name} has no stream '{stream}' (its streams: {there})")
        return options

    def _where(self, stream: str) -> str:
        return f"{self.system.name}.{stream}"

    # --- reading -----------------------------------------------------------------------

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """The stream's records in batches. With ``incremental``, every batch but the last carries the
        checkpoint the read started from, the last ``{"cursor": greatest value read}``: see
        :mod:`connectors.rest.reading`."""
        read = StreamRead(self.client, self._where(stream), self._stream(stream), checkpoint, self.options.concurrency)
        async with aclosing(read.batches(batch_size)) as batches:
            async for batch in batches:
                yield batch

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        """Each record by its key with the stream's ``get``; a 404 means it is not there.

        :raises NotImplementedError: when the stream has no ``get``
        """
        options = self._stream(stream)
        if options.get is None:
            raise NotImplementedError(f"{self._where(stream)} has no `get`: records cannot be looked up by key")
        found = await asyncio.gather(*(self._get_one(stream, options, key) for key in keys))
        return {key: record for key, record in zip(keys, found, strict=True) if record is not None}

    async def _get_one(self, stream: str, options: RestStream, key: str) -> Record | None:
        assert options.get is not None
        where = f"{self._where(stream)}: fetching {shown_text(key)}"
        path = request_path(options.get.path, key, tuple(options.key), where)
        try:
            response = await self.client.request("GET", path, where)
        except NotFoundHttpError:
            return None
        body = json_body(response, where)
        record = record_in(body, options.records, tuple(options.key)) or object_in(body, options.records)
        if record is None:
            raise PermanentError(f"{where}: the answer holds no record (an object)")
        return record

    async def _exists(self, stream: str, key: str) -> bool:
        return bool(await self.get(stream, [key]))

    # --- writing -----------------------------------------------------------------------

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """One request per write, up to ``concurrency`` at once: see :mod:`connectors.rest.writing`."""
        if not writes:
            return []
        options = self._stream(stream)

        async def exists(key: str) -> bool:
            return await self._exists(stream, key)

        writer = StreamWriter(
            self.client, self._where(stream), options, exists if options.get else None, self._ambiguities
        )
        return await writer.write(writes)

    def can_match(self, stream: str) -> bool:
        return self._stream(stream).match is not None

    async def match(self, stream: str, records: Sequence[Record]) -> list[str | None]:
        """For each record, the key of the one record already there with the same ``match`` field:
        see :mod:`connectors.rest.matching` (several such records: ``None``, and its create is refused)."""
        options = self._stream(stream)
        if options.match is None:
            return [None] * len(records)
        return await Matcher(self.client, self._where(stream), options, self._ambiguities).keys(records)
