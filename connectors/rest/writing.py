"""Writing a stream: one request per record, up to ``concurrency`` at once, one result per write.

- create: ``write.create`` with the mapped record as JSON; the key the system
  assigned is read from the answer (see :func:`~connectors.rest.paths.record_in`).
  A create is never sent again once it may have arrived: a timeout, a dropped
  connection or a 5xx other than 503 after the request went out ends that
  record's write with a :class:`~app.errors.TransientError` in its own result
  (the engine tries it again within the run only after ``match`` found nothing,
  else keeps it as a dead letter); only failures that prove nothing happened
  (no connection, 429, 503, 408) are retried here at once.
- update: ``write.update`` with the record as JSON, at the target key;
- delete: ``write.delete`` at the target key. A 404 or 410 is success ("already
  gone") only where the stream's ``get`` confirms the record is not there, so a
  wrong delete path is never taken for deletes that happened.

A record the system refuses (any 4xx, a 404 on update) fails alone with a
:class:`~app.errors.PermanentError` in its result. Only when every write of
the batch failed for a passing reason, and none of them may have happened,
does :meth:`StreamWriter.write` raise :class:`~app.errors.TransientError`, so
that the run stops and the sync backs off a system that is down. Each request
was retried already as the sync's ``retry`` policy says (see
:data:`connectors.base.retry_policy`): the engine retries none of it again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from connectors.base import (
    ConnectorError,
    PermanentError,
    Record,
    TransientError,
    Write,
    WriteAction,
    WriteResult,
    valid_unicode,
)
from connectors.rest.answers import json_body
from connectors.rest.client import RestClient
from connectors.rest.config import Endpoint, RestStream
from connectors.rest.errors import CredentialsRefused, NotFoundHttpError, TransientHttpError
from connectors.rest.matching import Ambiguities
from connectors.rest.paths import record_in, record_key, request_path, shown_text
from connectors.rest.together import all_or_stop

Exists = Callable[[str], Awaitable[bool]]


class StreamWriter:
    """Writes one stream's records.

    :param where: the stream, for messages (``"crm.contacts"``)
    :param exists: whether the record with a key is in the stream (its ``get``); ``None`` without ``get``
    :param ambiguities: values that ``match`` found on several records: creates of those are refused
    """

    def __init__(
        self,
        client: RestClient,
        where: str,
        options: RestStream,
        exists: Exists | None,
        ambiguities: Ambiguities,
    ) -> None:
        self.client = client
        self.stream = where
        self.where = f"{where}: writing"
        self.options = options
        self.key = tuple(options.key)
        self.exists = exists
        self.ambiguities = ambiguities

    async def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order.

        :raises TransientError: when every write failed for a passing reason and none may have happened
        """
        results = await all_or_stop(self._one(write) for write in writes)
        if results and all(_undone(write, result) for write, result in zip(writes, results, strict=True)):
            errors = [result.error for result in results if isinstance(result.error, TransientError)]
            first = errors[0]
            raise TransientError(
                f"{self.where}: none of the {len(writes)} writes went through: {first}",
                retried=all(error.retried for error in errors),  # each one's request was retried already
                retry_after=first.retry_after,
                maybe_done=False,
            ) from first
        return results

    async def _one(self, write: Write) -> WriteResult:
        try:
            if write.action is WriteAction.CREATE:
                return await self._create(write)
            if write.action is WriteAction.UPDATE:
                return await self._update(write)
            return await self._delete(write)
        except CredentialsRefused:
            raise  # no record can succeed: the run stops
        except ConnectorError as exc:
            return WriteResult(write.target_key, exc)

    async def _create(self, write: Write) -> WriteResult:
        endpoint = self._endpoint("create", self.options.write.create if self.options.write else None)
        record = write.record or {}
        if (keys := self.ambiguities.refused(self.stream, self.options.match, record)) is not None:
            field = self.options.match.field if self.options.match else ""
            raise PermanentError(
                f"{self.where}: not created: {len(keys)} records in {self.stream} already have this {field} "
                f"(keys {', '.join(keys)}), so `match` cannot tell which one this record is; merge them in the "
                "system, then retry the dead letter"
            )
        if (failure := self.ambiguities.failure(self.stream, self.options.match, record)) is not None:
            field = self.options.match.field if self.options.match else ""
            raise PermanentError(
                f"{self.where}: not created: looking for a record in {self.stream} that already has this {field} "
                f"failed, so a create could duplicate one: {failure}"
            )
        where = f"{self.where} (create)"
        response = await self.client.request(endpoint.method, endpoint.path, where, body=record, repeatable=False)
        created = record_in(self._created(response, where), self.options.records, self.key)
        if created is not None and (unusable := _unusable_key(created, self.key)) is not None:
            raise PermanentError(
                f"{where}: the API answered {response.status_code}, so the record was likely created, but the key "
                f"it gives is no key a later run could update it by: {unusable}; look for the record in "
                f"{self.stream} before retrying the dead letter (a `match` option finds it instead of creating it "
                "again)"
            )
        key = record_key(created, self.key) if created is not None else write.target_key
        if key is None:
            fields = ", ".join(f"`{name}`" for name in self.key)
            raise PermanentError(
                f"{where}: the record was created ({response.status_code}), but the answer has no {fields}, so "
                f"its key is unknown: a later run cannot update it. Check the stream's `key` and `records` "
                "against what the API answers to a create"
            )
        return WriteResult(key)

    def _created(self, response: httpx.Response, where: str) -> Any:
        """The JSON body of a create's 2xx answer (``None`` for an empty one).

        :raises PermanentError: when it is no JSON, saying that the record was likely created all the same
            (a retry of its dead letter creates it again unless ``match`` finds it)
        """
        try:
            return json_body(response, where, empty=None)
        except PermanentError as exc:
            reason = str(exc).removeprefix(f"{where}: ")
            raise PermanentError(
                f"{where}: the API answered {response.status_code}, so the record was likely created, but its key is "
                f"unknown: {reason}; look for the record in {self.stream} before retrying the dead letter (a `match` "
                "option finds it instead of creating it again)"
            ) from exc

    async def _update(self, write: Write) -> WriteResult:
        endpoint = self._endpoint("update", self.options.write.update if self.options.write else None)
        where = f"{self.where} (update of {shown_text(str(write.target_key))})"
        path = self._path(endpoint, write.target_key, where)
        await self.client.request(endpoint.method, path, where, body=write.record or {})
        return WriteResult(write.target_key)

    async def _delete(self, write: Write) -> WriteResult:
        endpoint = self._endpoint("delete", self.options.write.delete if self.options.write else None)
        where = f"{self.where} (delete of {shown_text(str(write.target_key))})"
        path = self._path(endpoint, write.target_key, where)
        try:
            await self.client.request(endpoint.method, path, where)
        except NotFoundHttpError:
            if self.exists is None or write.target_key is None or await self.exists(write.target_key):
                raise
        return WriteResult(write.target_key)

    def _endpoint(self, action: str, endpoint: Endpoint | None) -> Endpoint:
        if endpoint is None:
            raise PermanentError(f"{self.where}: the stream has no `write.{action}`: add one to {action} records")
        return endpoint

    def _path(self, endpoint: Endpoint, target_key: str | None, where: str) -> str:
        if target_key is None:
            raise PermanentError(f"{where}: the record has no target key")
        return request_path(endpoint.path, target_key, self.key, where)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _unusable_key(created: Record, fields: Sequence[str]) -> str | None:
    """Why the key fields of a create's answer cannot name the record later, or ``None``: a list or a
    mapping, empty text, or text with a NUL byte, a control character or a lone surrogate (stored as given,
    such a key sent each later update to another record's URL, or to none)."""
    for name in fields:
        value = created.get(name)
        if isinstance(value, dict | list):
            return f"`{name}` is a {'list' if isinstance(value, list) else 'mapping'}"
        if isinstance(value, str):
            if not value.strip():
                return f"`{name}` is empty"
            if _CONTROL.search(value) is not None or not valid_unicode(value):
                return f"`{name}` holds a NUL byte, a control character or text that is not valid Unicode"
    return None


def _undone(write: Write, result: WriteResult) -> bool:
    """Whether ``result`` is a passing failure of a write that certainly did not happen, or may be repeated."""
    error = result.error
    if not isinstance(error, TransientError):
        return False
    if write.action is not WriteAction.CREATE:
        return True
    return isinstance(error, TransientHttpError) and not error.maybe_done
