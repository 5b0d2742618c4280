"""``match``: find the record a create would duplicate, by a mapped field (``GET path?email=…``).

Each record is looked up with the stream's ``path`` and ``params`` plus
``{param}={value of field}``; the list is found at ``records``, as in a read,
and only its first page is looked at. Records in the answer that have
``field`` and a different value are left out (an API that ignores an unknown
parameter and lists everything must not make us adopt a stranger); text is
compared ignoring case and surrounding spaces. Then:

- no record: ``None``, the record is created;
- one record: its key, the record is adopted (updated instead of created);
- several: ``None``, and the create that follows is refused with a
  :class:`~app.errors.PermanentError` naming their keys: which of them is this
  record is for a person to decide (merge them in the system, then retry the
  dead letter). Adopting one at random could overwrite someone else's record,
  and creating yet another would add a duplicate.
- a look-up the API refuses (a 4xx, an answer that is not JSON): ``None``, and
  the create that follows is refused with that error, so that one record's
  value fails alone rather than the whole batch; a passing failure (5xx, a
  timeout) still fails the batch's matching, to be tried again as a whole.

A record without a value for ``field`` is not looked up (``None``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from connectors.base import PermanentError, Record, valid_unicode
from connectors.rest.answers import json_body, records_in
from connectors.rest.client import RestClient
from connectors.rest.config import Match, RestStream
from connectors.rest.errors import CredentialsRefused
from connectors.rest.paths import record_key
from connectors.rest.values import param_text

log = logging.getLogger(__name__)


class Ambiguities:
    """Values that ``match`` found on several records of a stream, or whose look-up the API refused, until
    a later look-up says otherwise."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], list[str]] = {}
        self._failed: dict[tuple[str, str], PermanentError] = {}

    def note(self, stream: str, value: str, keys: list[str]) -> None:
        """What a look-up of ``value`` in ``stream`` found."""
        self._failed.pop((stream, value), None)
        if len(keys) > 1:
            self._found[(stream, value)] = keys
        else:
            self._found.pop((stream, value), None)

    def note_failure(self, stream: str, value: str, error: PermanentError) -> None:
        """The API refused the look-up of ``value`` in ``stream``: whether a record has it is unknown."""
        self._failed[(stream, value)] = error

    def failure(self, stream: str, match: Match | None, record: Record) -> PermanentError | None:
        """Why the look-up for a create of ``record`` failed, or ``None``."""
        if match is None or not self._failed:
            return None
        value = record.get(match.field)
        return None if value is None else self._failed.get((stream, param_text(value)))

    def refused(self, stream: str, match: Match | None, record: Record) -> list[str] | None:
        """The keys of the records that a create of ``record`` would be ambiguous with, or ``None``."""
        if match is None or not self._found:
            return None
        value = record.get(match.field)
        return None if value is None else self._found.get((stream, param_text(value)))


class Matcher:
    """Looks records up by a stream's ``match`` option."""

    def __init__(self, client: RestClient, where: str, options: RestStream, ambiguities: Ambiguities) -> None:
        assert options.match is not None
        self.client = client
        self.stream = where
        self.where = f"{where}: looking for existing records (match)"
        self.options = options
        self.match: Match = options.match
        self.key = tuple(options.key)
        self.ambiguities = ambiguities

    async def keys(self, records: Sequence[Record]) -> list[str | None]:
        """For each record, the key of the one record already there with its value, else ``None``."""
        return list(await asyncio.gather(*(self._one(record) for record in records)))

    async def _one(self, record: Record) -> str | None:
        value = record.get(self.match.field)
        if value is None or value == "":
            return None
        text = param_text(value)
        if not valid_unicode(text):  # it cannot be asked for; the create's body cannot hold it either: it fails alone
            return None
        try:
            found = await self._found(text)
        except CredentialsRefused:
            raise  # no look-up can succeed: the run stops
        except PermanentError as exc:  # this value's look-up only: its create fails alone (see the writer)
            self.ambiguities.note_failure(self.stream, text, exc)
            return None
        same = [record for record in found if self.match.field not in record or _same(record[self.match.field], value)]
        keys = sorted({key for key in (record_key(record, self.key) for record in same) if key is not None})
        self.ambiguities.note(self.stream, text, keys)
        if len(keys) > 1:
            log.warning(
                "%s: %d records have the %s being created (keys %s): it is not created",
                self.where,
                len(keys),
                self.match.field,
                ", ".join(keys),
            )
            return None
        return keys[0] if keys else None

    async def _found(self, text: str) -> list[Record]:
        """The records the API lists for ``match.param`` = ``text``."""
        params = {**self.options.params, self.match.param: text}
        where = f"{self.where} {self.match.param}"
        response = await self.client.request("GET", self.options.path, where, params=params)
        return records_in(json_body(response, where), self.options.records, where)


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(found, str) and isinstance(wanted, str):
        return found.strip().casefold() == wanted.strip().casefold()
    if found is None:
        return False
    return param_text(found) == param_text(wanted)
