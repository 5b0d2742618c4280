"""``match``: find the record a create would duplicate, by a mapped field (``GET path?email=…``).

Each record is looked up with the stream's ``path`` and ``params`` plus
``{param}={value of field}``; the list is found at ``records``, as in a read,
and only its first page is looked at. The API's filter is not trusted: only a
record in the answer whose ``field`` equals the value asked for may be adopted
(text compared ignoring case and surrounding spaces). One with another value
is left out (an API that ignores an unknown parameter and lists everything
must not make us update a stranger), and so is one without ``field`` at all,
whose value cannot be checked. Then, by the records with the value:

- none, and none without ``field`` either: ``None``, the record is created;
- one: its key, the record is adopted (updated instead of created);
- several: ``None``, and the create that follows is refused with a
  :class:`~app.errors.PermanentError` naming their keys: which of them is this
  record is for a person to decide (merge them in the system, then retry the
  dead letter). Adopting one at random could overwrite someone else's record,
  and creating yet another would add a duplicate.
- none, but records without ``field`` (whether one of them is this record
  cannot be told), or one without the stream's key (it cannot be updated):
  ``None``, and the create that follows is refused, saying so.
- a look-up the API refuses (a 4xx, an answer that is not JSON): ``None``, and
  the create that follows is refused with that error, so that one record's
  value fails alone rather than the whole batch; a passing failure (5xx, a
  timeout) still fails the batch's matching, to be tried again as a whole.

A record without a value for ``field`` is not looked up (``None``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from connectors.base import NotARecord, PermanentError, Record, valid_unicode
from connectors.rest.answers import json_body, records_in
from connectors.rest.client import RestClient
from connectors.rest.config import Match, RestStream
from connectors.rest.errors import CredentialsRefused
from connectors.rest.paths import record_key, shown_text
from connectors.rest.together import all_or_stop
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
        """The look-up of ``value`` in ``stream`` failed or told nothing sure: whether a record has it is unknown."""
        self._found.pop((stream, value), None)
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
        self._warned_of_strangers = False

    async def keys(self, records: Sequence[Record]) -> list[str | None]:
        """For each record, the key of the one record already there with its value, else ``None``."""
        return await all_or_stop(self._one(record) for record in records)

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
        try:
            keys = self._keys_with(found, value, text)
        except PermanentError as exc:
            self.ambiguities.note_failure(self.stream, text, exc)
            return None
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

    def _keys_with(self, found: list[Record], value: Any, text: str) -> list[str]:
        """The keys of the records in ``found`` whose ``field`` equals ``value``, sorted.

        :raises PermanentError: where ``found`` cannot say whether a record has ``value``: none has it, but
            some lack the field; or one that has it lacks the key
        """
        field = self.match.field
        found = [record for record in found if not isinstance(record, NotARecord)]  # an item that is no record
        same = [record for record in found if field in record and _same(record[field], value)]
        if len(same) < len(found):
            self._warn_of_strangers(found, same)
        keys = [record_key(record, self.key) for record in same]
        if None in keys:
            fields = ", ".join(f"`{name}`" for name in self.key)
            raise PermanentError(
                f"{self.where}: the API answered a record with this {field} ({shown_text(text)}) but without "
                f"its key {fields}, so it cannot be adopted, and creating another would duplicate it; check the "
                "stream's `key` and `records` against what the API lists"
            )
        blind = [record for record in found if field not in record]
        if not same and blind:
            raise PermanentError(
                f"{self.where}: the API answered {len(blind)} record(s) without `{field}` to the look-up of "
                f"{self.match.param}={shown_text(text)}, so whether one of them is this record cannot be told: the "
                f"API leaves `{field}` out of its list, or ignores the `{self.match.param}` parameter; make the "
                f"list include `{field}` (the stream's `params`) or match by a field it has, then retry the dead "
                "letter"
            )
        return sorted({key for key in keys if key is not None})

    def _warn_of_strangers(self, found: list[Record], same: list[Record]) -> None:
        """Say once a batch that the API's answers list records without the value asked for: it ignores or widens
        the filter, and only the first page is looked at, so a record on a later page is not found."""
        if self._warned_of_strangers:
            return
        self._warned_of_strangers = True
        log.warning(
            "%s: the API answered %d record(s) to a look-up by %s, %d of them without the value asked for: it "
            "seems to ignore or widen the `%s` parameter; those are never adopted, but only the first page of "
            "the answer is looked at, so a record further on would not be found (check `match.param`)",
            self.where,
            len(found),
            self.match.param,
            len(found) - len(same),
            self.match.param,
        )

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
