"""A run's questions about dead letters, asked a batch of keys at a time: which of these records have a
letter, the hash of the record each keeps, and which this run's retry of dead letters dealt with.

A run used to ask once for every letter of its sync as it began, and held the answers for the whole run
(~220 bytes a letter: 250 MB at 1,000,000 letters, all read before anything else was done).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import case, delete, null, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.records import loads
from app.store.tables import DEAD_LETTERS, DIRECTIONS, RETRIED

if TYPE_CHECKING:
    from app.store.access import StoreAccess


class LetterMark(NamedTuple):
    """What a run needs of one dead letter: its key, the hash of the record it keeps, the run that kept it."""

    source_key: str
    hash: str | None
    """``None`` for a letter kept before hashes were (migration 0009): :attr:`record` is given instead."""
    record: Any
    """The record the letter keeps, where it has no :attr:`hash` (else ``None``: not read)."""
    run_id: int | None


class KeysLetters(NamedTuple):
    """What the state database holds about some keys' dead letters, as a run asks it (:meth:`LettersByKey.of`)."""

    marks: list[LetterMark]
    """The letters of these keys, in the order they were first kept: discarded ones and every direction too."""
    retried: dict[str, str]
    """Key → record hash, of those this run's retry of dead letters dealt with."""


class LettersByKey:
    """The store's dead letters found by their keys, for a run's batches."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    async def any(self, sync: str) -> bool:
        """Whether ``sync`` has a dead letter, discarded ones included: a run without any asks nothing more."""
        query = select(DEAD_LETTERS.c.id).where(DEAD_LETTERS.c.sync == sync).limit(1)
        async with self.store._begin() as connection:
            return (await connection.execute(query)).first() is not None

    async def of(self, sync: str, run_id: int, keys: Collection[str], *, retried: bool) -> KeysLetters:
        """The dead letters of these keys of ``sync``; with ``retried``, also those of them that run ``run_id``'s
        retry of dead letters dealt with. Each found by the whole of its index (a few probes a key)."""
        kept = case((DEAD_LETTERS.c.hash.is_(None), DEAD_LETTERS.c.record), else_=null())
        columns = (DEAD_LETTERS.c.source_key, DEAD_LETTERS.c.hash, kept, DEAD_LETTERS.c.run_id)
        marks: list[LetterMark] = []
        found: dict[str, str] = {}
        async with self.store._begin() as connection:
            for among in self.store._key_in(DEAD_LETTERS.c.source_key, list(keys)):
                query = select(*columns).where(
                    DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.direction.in_(DIRECTIONS), among
                )
                for key, digest, record, kept_by in await connection.execute(query.order_by(DEAD_LETTERS.c.id)):
                    marks.append(LetterMark(key, digest, None if record is None else loads(record), kept_by))
            if retried:
                for among in self.store._key_in(RETRIED.c.source_key, list(keys)):
                    query = select(RETRIED.c.source_key, RETRIED.c.hash).where(
                        RETRIED.c.sync == sync, RETRIED.c.run_id == run_id, among
                    )
                    found.update({str(row[0]): str(row[1]) for row in await connection.execute(query)})
        return KeysLetters(marks, found)

    async def forget_retried(self, sync: str, run_id: int) -> None:
        """A run of ``sync`` has ended: what its retry of dead letters dealt with is forgotten, and what a run
        before it left (one that was killed: a later run's id is greater)."""
        statement = delete(RETRIED).where(RETRIED.c.sync == sync, RETRIED.c.run_id <= run_id)
        async with self.store._begin() as connection:
            await connection.execute(statement)


async def write_retried(
    connection: AsyncConnection, store: StoreAccess, sync: str, run_id: int, retried: Sequence[tuple[str, str]]
) -> None:
    """Note (source key, record hash) of the records a batch of run ``run_id``'s retry of dead letters dealt
    with, in the batch's transaction."""
    if not retried:
        return
    statement = store._insert(RETRIED)
    await connection.execute(
        statement.on_conflict_do_update(  # a key retried twice in one run (its letters in two directions)
            index_elements=[RETRIED.c.sync, RETRIED.c.run_id, RETRIED.c.source_key],
            set_={"hash": statement.excluded.hash},
        ),
        [{"sync": sync, "run_id": run_id, "source_key": key, "hash": digest} for key, digest in retried],
    )
