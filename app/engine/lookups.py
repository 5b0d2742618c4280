"""A batch's ``lookup`` answers, fetched from the state database's ID maps at once before it is mapped.

One query per sync asked for the whole batch, not one per record: forward lookups by the ID map's
key (sync, source key), reverse ones (a two-way sync carrying a key back) by its index on
(sync, target key).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.mapping import CompiledMapping, FoundLookups, LookupResolver, NoLookups
from app.record_checks import all_storable
from app.records import Record
from app.store import Store

_NONE = NoLookups()


async def find_lookups(store: Store, mapping: CompiledMapping, records: Sequence[Record]) -> LookupResolver:
    """What ``mapping``'s lookups will ask when it maps ``records``, answered; a key the ID map has not
    linked (the parent is not synced yet) is left out, so its record fails with reason ``lookup``."""
    if not mapping.has_lookups:
        return _NONE
    forward = _storable({request for record in records for request in mapping.lookup_requests(record)})
    reverse: set[tuple[str, str]] = set()
    if mapping.has_reverse_lookups:
        asked = (mapping.lookup_requests(record, reverse=True) for record in records)
        reverse = _storable({request for requests in asked for request in requests})
    return FoundLookups(
        await store.target_keys(forward) if forward else {},
        await store.source_keys(reverse) if reverse else {},
    )


def _storable(requests: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """A parent key no ID map can hold is not found, never an error."""
    if all_storable(key for _, key in requests):
        return requests
    return {(sync, key) for sync, key in requests if all_storable((key,))}
