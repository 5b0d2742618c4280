"""Reading source records by key (dead letters read fresh, webhook events that carry keys only), where one
key the source refuses never stops the rest (SPEC 8).

A key comes from another system: ``..``, a key with a ``/`` on a REST path, one the database cannot hold.
Asked for together, one refused key would fail the whole look-up, and with it every run of the sync for
good; so when the batch look-up fails for good, each key is asked for alone, and only its own fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.config import RetryPolicy
from app.engine.connector_calls import checked_found, guarded
from app.engine.retry import Sleep, with_retries
from app.errors import PermanentError
from app.records import Record
from connectors.base import Connector


@dataclass
class ByKey:
    """What a look-up by key found: the records there are, and the keys refused with why."""

    found: dict[str, Record] = field(default_factory=dict)
    refused: dict[str, PermanentError] = field(default_factory=dict)


async def records_by_key(
    source: Connector, stream: str, keys: Sequence[str], policy: RetryPolicy, sleep: Sleep
) -> ByKey:
    """The records with these keys that exist, each key refused by the source set apart.

    :raises NotImplementedError: when the source cannot look records up by key
    :raises TransientError: when the source keeps failing for a passing reason
    """

    async def ask(asked: Sequence[str]) -> ByKey:
        answer = await with_retries(
            policy,
            lambda: guarded(source, f"looking stream '{stream}' up", source.get(stream, asked)),
            sleep,
        )
        found, unfit = checked_found(source, stream, answer)  # as a read's records are: one unfit fails alone
        return ByKey(found, {key: PermanentError(why) for key, why in unfit.items()})

    try:
        return await ask(keys)
    except PermanentError as exc:
        if len(keys) == 1:
            return ByKey(refused={keys[0]: exc})
    outcome = ByKey()
    for key in keys:
        try:
            alone = await ask([key])
        except PermanentError as exc:
            outcome.refused[key] = exc
            continue
        outcome.found.update(alone.found)
        outcome.refused.update(alone.refused)
    return outcome
