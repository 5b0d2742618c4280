"""What the engine relies on from the state database, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import random
import string
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from app.config.base import MOST_NAME_CHARACTERS
from app.errors import StoreError
from app.record_checks import MOST_KEY_BYTES
from app.store import BatchChanges, Counts, Failure, LogEntry, Store
from app.store.models import LogRow
from app.store.tables import METADATA

SYNC = "contacts"


async def test_migrations_build_exactly_the_models(store: Store) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, METADATA))

    async with store.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_keys_are_compared_byte_by_byte(store: Store) -> None:
    """Source keys are identifiers: a language collation would only make every key index dearer."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares text byte by byte unless told otherwise")
    query = text(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE column_name IN ('sync', 'source_key') AND table_name IN ('id_map', 'record_log', 'dead_letters')"
    )
    async with store.engine.connect() as connection:
        columns = (await connection.execute(query)).all()
    assert len(columns) == 6
    assert {row[2] for row in columns} == {"C"}, columns


async def test_the_record_log_finds_runs_by_a_block_range_index(store: Store) -> None:
    """Each logged row keeps every index of the log up to date: the run's index costs next to nothing."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no block-range indexes")
    query = text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_record_log_run_id'")
    async with store.engine.connect() as connection:
        definition = (await connection.execute(query)).scalar_one()
    assert "USING brin (run_id)" in definition


async def test_a_closed_store_refuses_work_rather_than_open_a_connection_nothing_closes(
    state_url: str, tmp_path: Path
) -> None:
    store = await Store.open(state_url, tmp_path)
    await store.close()
    with pytest.raises(StoreError, match="used after it was closed"):
        await store.start_run(SYNC, "manual")


async def test_opening_an_existing_database_again_keeps_its_data(state_url: str, tmp_path: Path) -> None:
    first = await Store.open(state_url, tmp_path)
    run_id = await first.start_run(SYNC, "manual")
    await first.close()

    second = await Store.open(state_url, tmp_path)
    try:
        found = await second.run(run_id)
    finally:
        await second.close()

    assert found is not None and found.status == "running"


async def test_a_run_adds_up_its_batches(store: Store) -> None:
    run_id = await store.start_run(SYNC, "schedule")
    await store.commit_batch(SYNC, run_id, BatchChanges(counts=Counts(read=3, created=2, skipped=1)))
    await store.commit_batch(SYNC, run_id, BatchChanges(counts=Counts(read=2, updated=1, failed=1)))

    finished = await store.finish_run(run_id, "partial")

    assert finished.counts == Counts(read=5, created=2, updated=1, skipped=1, failed=1)
    assert (finished.trigger, finished.status) == ("schedule", "partial")
    assert finished.finished_at is not None and finished.finished_at >= finished.started_at
    assert finished.started_at.tzinfo is UTC


async def test_last_runs_gives_each_syncs_newest(store: Store) -> None:
    old = await store.start_run(SYNC, "manual")
    await store.finish_run(old, "failed", "target down")
    newest = await store.start_run(SYNC, "manual")
    other = await store.start_run("other", "manual")

    last = await store.last_runs()

    assert {name: run.id for name, run in last.items()} == {SYNC: newest, "other": other}


async def test_a_checkpoint_keeps_its_types_and_moves_only_with_its_batch(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    moment = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    checkpoint = {"cursor": moment, "amount": Decimal("1.50"), "after": ["a", 1]}

    assert await store.checkpoint(SYNC) is None
    await store.commit_batch(SYNC, run_id, BatchChanges(checkpoint=checkpoint))
    await store.commit_batch(SYNC, run_id, BatchChanges(checkpoint=None))

    assert await store.checkpoint(SYNC) == checkpoint
    await store.forget_checkpoint(SYNC)
    assert await store.checkpoint(SYNC) is None


class Unstorable:
    """A value no text can be made of: the state database cannot keep it."""

    def __str__(self) -> str:
        raise TypeError("no text for this value")


async def test_a_failing_batch_commits_nothing(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(checkpoint={"cursor": 1}))
    broken = BatchChanges(
        mapped=[("1", "1", "h1")],
        log=[LogEntry("1", "1", "created")],
        counts=Counts(read=1, created=1),
        checkpoint={"cursor": 2},
        failures=[Failure("2", {"unstorable": Unstorable()}, "bad", "mapping")],
    )

    with pytest.raises(TypeError):
        await store.commit_batch(SYNC, run_id, broken)

    assert await store.checkpoint(SYNC) == {"cursor": 1}
    assert await store.id_map(SYNC, ["1"]) == {}
    assert await store.log_entries(run_id) == []
    assert (await store.finish_run(run_id, "failed")).counts == Counts()


async def test_a_failing_first_load_batch_commits_nothing(store: Store) -> None:
    """New ID-map rows and log rows go in by COPY on PostgreSQL: inside the batch's transaction too."""
    run_id = await store.start_run(SYNC, "manual")
    broken = _batch("1", 1)
    broken.failures = [Failure("2", {"unstorable": Unstorable()}, "bad", "mapping")]

    with pytest.raises(TypeError):
        await store.commit_batch(SYNC, run_id, broken)

    assert await store.id_map(SYNC, ["1"]) == {}
    assert await store.log_entries(run_id) == []
    assert await store.checkpoint(SYNC) is None


def _batch(key: str, cursor: int) -> BatchChanges:
    return BatchChanges(
        new_mappings=[(key, key, "h")],
        log=[LogEntry(key, key, "created")],
        counts=Counts(read=1, created=1),
        checkpoint={"cursor": cursor},
    )


async def test_a_batch_stored_while_the_one_before_commits_is_committed_after_it(store: Store) -> None:
    """On PostgreSQL the second batch writes its rows meanwhile; on SQLite it waits first. Either way
    nothing of it is visible before the first is committed, and its checkpoint is the one kept."""
    run_id = await store.start_run(SYNC, "manual")
    first_may_end, second_waits = asyncio.Event(), asyncio.Event()

    async def hold_first() -> None:
        await first_may_end.wait()

    first = asyncio.ensure_future(store.commit_batch(SYNC, run_id, _batch("1", 1), after=hold_first))

    async def after_first() -> None:
        second_waits.set()
        await asyncio.shield(first)

    second = asyncio.ensure_future(store.commit_batch(SYNC, run_id, _batch("2", 2), after=after_first))
    await second_waits.wait()
    if store.engine.dialect.name == "postgresql":
        assert first_may_end.is_set() is False
    assert await store.id_map(SYNC, ["1", "2"]) == {}, "neither batch is committed yet"
    first_may_end.set()
    await asyncio.gather(first, second)

    assert set(await store.id_map(SYNC, ["1", "2"])) == {"1", "2"}
    assert await store.checkpoint(SYNC) == {"cursor": 2}
    assert (await store.finish_run(run_id, "succeeded")).counts == Counts(read=2, created=2)


async def test_two_batches_under_way_waiting_on_each_other_fail_rather_than_hang(store: Store) -> None:
    """The engine never lets two batches with a key in common be under way; were it to, the later one
    could hold a row the earlier one needs while it waits for that one: an error, not a hang."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite commits one batch after the other: nothing waits on anything")
    store.lock_timeout_ms = 200
    run_id = await store.start_run(SYNC, "manual")
    tasks: dict[str, asyncio.Task[None]] = {}
    later_holds_the_row, earlier_started = asyncio.Event(), asyncio.Event()

    async def wait_for_earlier() -> None:
        later_holds_the_row.set()
        await earlier_started.wait()
        await asyncio.shield(tasks["earlier"])

    async def nothing_before() -> None:
        return None

    tasks["later"] = asyncio.ensure_future(store.commit_batch(SYNC, run_id, _batch("1", 2), after=wait_for_earlier))
    await later_holds_the_row.wait()
    tasks["earlier"] = asyncio.ensure_future(store.commit_batch(SYNC, run_id, _batch("1", 1), after=nothing_before))
    earlier_started.set()

    async with asyncio.timeout(10):
        results = await asyncio.gather(tasks["earlier"], tasks["later"], return_exceptions=True)

    assert [type(result) for result in results] == [StoreError, StoreError], results
    assert "lock timeout" in str(results[0])
    assert await store.id_map(SYNC, ["1"]) == {}
    assert await store.checkpoint(SYNC) is None


async def test_a_batch_whose_batch_before_failed_commits_nothing(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, _batch("1", 1))

    async def failed_before() -> None:
        raise StoreError("the batch before could not be stored")

    with pytest.raises(StoreError, match="batch before"):
        await store.commit_batch(SYNC, run_id, _batch("2", 2), after=failed_before)

    assert set(await store.id_map(SYNC, ["1", "2"])) == {"1"}
    assert [entry["source_key"] for entry in await store.log_entries(run_id)] == ["1"]
    assert await store.checkpoint(SYNC) == {"cursor": 1}
    assert (await store.finish_run(run_id, "failed")).counts == Counts(read=1, created=1)


async def test_the_id_map_keeps_target_keys_and_hashes(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(mapped=[("1", "A1", "h1"), ("2", "A2", "h2")]))
    await store.commit_batch(SYNC, run_id, BatchChanges(mapped=[("2", "A2", "h2b")], unmapped=["1"]))

    found = await store.id_map(SYNC, ["1", "2", "3"])

    assert {key: (entry.target_key, entry.hash) for key, entry in found.items()} == {"2": ("A2", "h2b")}
    assert await store.id_map("other sync", ["2"]) == {}
    assert (await store.has_id_map(SYNC), await store.has_id_map("other sync")) == (True, False)


async def test_rows_rehashed_keep_their_target_keys_and_take_the_new_hash_and_run(store: Store) -> None:
    """A record updated where its target key is the same: the row's hash and run change, its target key (and
    the index on it) is not written; a row not there is added whole."""
    first = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, first, BatchChanges(mapped=[("1", "A1", "h1")]))
    second = await store.start_run(SYNC, "manual")
    # the engine gives a row's target key as it is already: here another, to show that it is not written
    await store.commit_batch(SYNC, second, BatchChanges(rehashed=[("1", "not written", "h1b"), ("2", "A2", "h2")]))

    found = await store.id_map(SYNC, ["1", "2"])

    assert {key: (entry.target_key, entry.hash) for key, entry in found.items()} == {
        "1": ("A1", "h1b"),
        "2": ("A2", "h2"),
    }
    assert await store.unseen(SYNC, second, None, 10) == []


async def test_the_id_map_tells_the_run_that_wrote_an_entry_and_a_repeat_s_hash(store: Store) -> None:
    """A key read twice in one run: the entry says which run wrote it, and keeps the hash of a repeat written as
    such through later writes of the key; an entry read unchanged is marked seen at the run that touches it."""
    first = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, first, BatchChanges(new_mappings=[("1", "A1", "h1"), ("2", "A2", "h2")]))
    await store.commit_batch(SYNC, first, BatchChanges(rehashed=[("1", "A1", "h1b")], repeats=[("1", "h1b")]))
    second = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, second, BatchChanges(rehashed=[("1", "A1", "h1")], touched=["2"]))

    found = await store.id_map(SYNC, ["1", "2"])

    assert {key: (entry.hash, entry.seen_run, entry.repeat_hashes) for key, entry in found.items()} == {
        "1": ("h1", second, "h1b"),
        "2": ("h2", second, None),
    }


async def test_the_longest_sync_name_with_the_longest_key_is_kept(store: Store) -> None:
    """The bounds fit together: PostgreSQL holds at most 2,704 bytes in an index row, and the state database
    indexes each key with its sync's name. Random text, so that no compression makes the rows shorter."""
    chosen = random.Random(7)
    sync = "".join(chosen.choices(string.ascii_letters + string.digits, k=MOST_NAME_CHARACTERS))
    key = "".join(chr(chosen.randrange(0x4E00, 0x9FFF)) for _ in range(MOST_KEY_BYTES // 3))  # 3 bytes each
    run_id = await store.start_run(sync, "manual")
    failure = Failure(key + "!", {"id": 1}, "field email: required", "mapping")
    changes = BatchChanges(mapped=[(key, "A1", "h1")], log=[LogEntry(key, "A1", "created")], failures=[failure])

    await store.commit_batch(sync, run_id, changes)

    assert (await store.id_map(sync, [key]))[key].target_key == "A1"
    assert [letter.source_key for letter in await store.dead_letters(sync)] == [key + "!"]


async def test_lookups_find_target_keys_across_syncs_in_large_numbers(store: Store) -> None:
    run_id = await store.start_run("parents", "manual")
    parents: list[tuple[str, str | None, str]] = [(str(number), f"P{number}", "h") for number in range(1200)]
    await store.commit_batch("parents", run_id, BatchChanges(mapped=parents))

    found = await store.target_keys([("parents", str(number)) for number in range(0, 1300, 7)])

    assert found == {("parents", str(number)): f"P{number}" for number in range(0, 1200, 7)}


async def test_reverse_lookups_find_the_source_key_linked_with_each_target_key(store: Store) -> None:
    run_id = await store.start_run("parents", "manual")
    parents: list[tuple[str, str | None, str]] = [(str(number), f"P{number}", "h") for number in range(1200)]
    await store.commit_batch("parents", run_id, BatchChanges(mapped=[*parents, ("zz", "P7", "h"), ("0a", None, "h")]))

    found = await store.source_keys([("parents", f"P{number}") for number in range(0, 1300, 7)])

    # P7 is the target of two source records: the least key stands, the same on every run
    assert found == {("parents", f"P{number}"): str(number) for number in range(0, 1200, 7)}
    assert await store.source_keys([("other sync", "P7")]) == {}


async def test_a_record_failing_twice_in_one_run_counts_one_attempt(store: Store) -> None:
    """A record read twice in one run (a repeated row, a re-read boundary) failed twice: two attempts, and its
    dead letter was given up on a run early."""
    first_run = await store.start_run(SYNC, "manual")
    for error in ("first", "again in a later batch"):
        await store.commit_batch(SYNC, first_run, BatchChanges(failures=[Failure("9", {"id": 9}, error, "mapping")]))
    (after_one,) = await store.dead_letters(SYNC)
    second_run = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, second_run, BatchChanges(failures=[Failure("9", {"id": 9}, "later", "mapping")]))
    (after_two,) = await store.dead_letters(SYNC)

    assert (after_one.attempts, after_one.error) == (1, "again in a later batch")
    assert (after_two.attempts, after_two.error) == (2, "later")


async def test_dead_letters_count_their_attempts_and_clear_when_resolved(store: Store) -> None:
    first_run = await store.start_run(SYNC, "manual")
    failure = Failure("9", {"id": 9, "amount": Decimal("2.50")}, "field email: required", "mapping")
    await store.commit_batch(SYNC, first_run, BatchChanges(failures=[failure, Failure("10", {"id": 10}, "x", "write")]))
    second_run = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, second_run, BatchChanges(failures=[Failure("9", {"id": 9}, "again", "mapping")]))

    letters = {letter.source_key: letter for letter in await store.dead_letters(SYNC)}
    assert letters["9"].attempts == 2 and letters["9"].error == "again" and letters["9"].record == {"id": 9}
    assert letters["10"].record == {"id": 10} and letters["10"].reason == "write"
    assert letters["9"].last_failed_at >= letters["9"].first_failed_at

    await store.commit_batch(SYNC, second_run, BatchChanges(resolved=["9"]))
    assert [letter.source_key for letter in await store.dead_letters(SYNC)] == ["10"]
    assert await store.dead_letter_counts() == {SYNC: 1}


async def test_a_two_way_dead_letter_is_one_per_direction(store: Store) -> None:
    """A pair failing both ways whose a key reads as its b key keeps a letter per direction; settling one
    direction clears its letter only."""
    run_id = await store.start_run(SYNC, "manual")
    failures = [
        Failure("7", {"side": "a"}, "into b", "write", "to_b"),
        Failure("7", {"side": "b"}, "into a", "write", "to_a"),
    ]
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=failures))

    letters = {letter.direction: letter for letter in await store.dead_letters(SYNC)}
    assert {direction: (letter.record, letter.error) for direction, letter in letters.items()} == {
        "to_b": ({"side": "a"}, "into b"),
        "to_a": ({"side": "b"}, "into a"),
    }

    await store.commit_batch(SYNC, run_id, BatchChanges(resolved_directed=[("to_a", "7")]))
    assert [(letter.direction, letter.error) for letter in await store.dead_letters(SYNC)] == [("to_b", "into b")]


async def test_a_one_way_dead_letter_has_no_direction(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("1", {}, "bad", "mapping")]))
    later = await store.start_run(SYNC, "manual")  # one attempt a run
    await store.commit_batch(SYNC, later, BatchChanges(failures=[Failure("1", {}, "again", "mapping")]))

    [letter] = await store.dead_letters(SYNC)
    assert (letter.direction, letter.attempts, letter.error) == (None, 2, "again")


async def test_due_dead_letters_stop_after_later_runs_except_lookups(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    failures = [Failure("mapping", {}, "e", "mapping"), Failure("lookup", {}, "e", "lookup")]
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=failures))
    for _ in range(3):  # three more failures: four attempts in all
        later = await store.start_run(SYNC, "manual")
        await store.commit_batch(SYNC, later, BatchChanges(failures=failures))

    this_run = await store.start_run(SYNC, "manual")
    due_with_three = await store.due_dead_letters(SYNC, this_run, later_runs=3, after_id=0, limit=10)
    due_with_four = await store.due_dead_letters(SYNC, this_run, later_runs=4, after_id=0, limit=10)
    due_in_failing_run = await store.due_dead_letters(SYNC, later, later_runs=4, after_id=0, limit=10)

    assert [letter.source_key for letter in due_with_three] == ["lookup"]
    assert [letter.source_key for letter in due_with_four] == ["mapping", "lookup"]
    assert due_in_failing_run == []


async def test_due_dead_letters_page_by_id(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(
        SYNC, run_id, BatchChanges(failures=[Failure(str(n), {}, "e", "mapping") for n in range(5)])
    )
    this_run = await store.start_run(SYNC, "manual")

    first = await store.due_dead_letters(SYNC, this_run, 3, after_id=0, limit=3)
    rest = await store.due_dead_letters(SYNC, this_run, 3, after_id=first[-1].id, limit=3)

    assert [letter.source_key for letter in first + rest] == ["0", "1", "2", "3", "4"]


async def test_a_sync_has_dead_letters_once_one_is_kept_discarded_ones_too(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    assert not await store.letters.any(SYNC)

    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("1", {}, "e", "mapping")]))
    [letter] = await store.dead_letters(SYNC)
    await store.history.discard(letter.id, "not wanted")

    assert await store.letters.any(SYNC)
    assert not await store.letters.any("other")


async def test_dead_letters_are_found_by_key_with_their_record_hash_discarded_ones_too(store: Store) -> None:
    """A run asks a batch's keys at a time: each letter's hash and the run that kept it, in the order kept;
    a letter kept with no hash (before migration 0009) gives its record instead, for the engine to hash."""
    run_id = await store.start_run(SYNC, "manual")
    failures = [Failure(str(n), {"id": n, "amount": Decimal("2.50")}, "e", "mapping", hash=f"h{n}") for n in range(5)]
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=failures))
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("9", {"id": 9}, "e", "mapping")]))
    await store.commit_batch("other", run_id, BatchChanges(failures=[Failure("1", {}, "e", "mapping", hash="x")]))
    [discarded] = [letter for letter in await store.dead_letters(SYNC) if letter.source_key == "3"]
    await store.history.discard(discarded.id, "not wanted")
    later = await store.start_run(SYNC, "manual")

    found = await store.letters.of(SYNC, later, ["3", "1", "9", "7", *(f"k{n}" for n in range(5000))], retried=True)

    assert [(mark.source_key, mark.hash, mark.run_id) for mark in found.marks] == [
        ("1", "h1", run_id),
        ("3", "h3", run_id),
        ("9", None, run_id),
    ]
    assert [mark.record for mark in found.marks] == [None, None, {"id": 9}]
    assert found.retried == {}


async def test_a_failing_again_letter_keeps_its_new_record_s_hash(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("1", {"v": 1}, "e", "mapping", hash="h1")]))
    later = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, later, BatchChanges(failures=[Failure("1", {"v": 2}, "e", "mapping", hash="h2")]))

    [mark] = (await store.letters.of(SYNC, later, ["1"], retried=False)).marks

    assert (mark.hash, mark.run_id) == ("h2", later)


async def test_what_a_run_s_retry_dealt_with_is_kept_for_that_run_until_it_ends(store: Store) -> None:
    killed = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, killed, BatchChanges(retried=[("1", "old")]))
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(retried=[("1", "h1"), ("2", "h2")]))
    await store.commit_batch(SYNC, run_id, BatchChanges(retried=[("2", "h2 again")]))
    await store.commit_batch("other", run_id, BatchChanges(retried=[("3", "h3")]))

    found = await store.letters.of(SYNC, run_id, ["1", "2", "3"], retried=True)
    assert found.retried == {"1": "h1", "2": "h2 again"}
    assert found.marks == []

    await store.letters.forget_retried(SYNC, run_id)
    assert (await store.letters.of(SYNC, run_id, ["1", "2"], retried=True)).retried == {}
    assert (await store.letters.of(SYNC, killed, ["1"], retried=True)).retried == {}
    assert (await store.letters.of("other", run_id, ["3"], retried=True)).retried == {"3": "h3"}


async def test_what_a_killed_run_s_retry_dealt_with_is_forgotten_as_its_sync_s_next_run_starts(store: Store) -> None:
    """A run killed while retrying dead letters never forgot what its retry dealt with: the rows stayed until a
    later run of the sync retried a letter itself (never, for a sync whose letters were all settled)."""
    (killed,) = (await store.start_runs([SYNC], "retry", "abandoned")).ids.values()
    await store.commit_batch(SYNC, killed, BatchChanges(retried=[("1", "h1"), ("2", "h2")]))
    other = await store.start_run("other", "manual")
    await store.commit_batch("other", other, BatchChanges(retried=[("3", "h3")]))

    started = await store.start_runs([SYNC], "schedule", "abandoned: the process running it stopped")

    assert started.abandoned == {SYNC: 1}
    assert (await store.letters.of(SYNC, killed, ["1", "2"], retried=True)).retried == {}
    assert (await store.letters.of("other", other, ["3"], retried=True)).retried == {"3": "h3"}  # still running


async def test_mirror_finds_records_not_seen_in_this_run(store: Store) -> None:
    old_run = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, old_run, BatchChanges(mapped=[(str(n), f"T{n}", "h") for n in range(6)]))
    run_id = await store.start_run(SYNC, "manual")

    await store.mark_seen(SYNC, run_id, ["0", "2", "4"])
    await store.commit_batch(SYNC, run_id, BatchChanges(mapped=[("5", "T5", "h2")]))
    first = await store.unseen(SYNC, run_id, None, 1)
    rest = await store.unseen(SYNC, run_id, first[-1][0], 10)

    assert first + rest == [("1", "T1"), ("3", "T3")]


async def test_the_record_log_keeps_each_action(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    log: list[LogRow] = [LogEntry("1", "A", "created"), LogEntry("2", None, "failed", "field email: required")]
    await store.commit_batch(SYNC, run_id, BatchChanges(log=log))

    entries = await store.log_entries(run_id)

    assert [(e["source_key"], e["target_key"], e["action"], e["error"]) for e in entries] == [
        ("1", "A", "created", None),
        ("2", None, "failed", "field email: required"),
    ]


async def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the state database postgresql") as caught:
        await Store.open("postgresql://nobody:secret@127.0.0.1:1/none", tmp_path)

    assert "secret" not in str(caught.value)


async def test_a_relative_sqlite_path_starts_at_the_project_folder(tmp_path: Path) -> None:
    store = await Store.open("sqlite:///state/brygga.db", tmp_path)
    await store.close()

    assert (tmp_path / "state" / "brygga.db").exists()
