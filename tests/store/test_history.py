"""Reading back what happened, page by page, and forgetting it when it is old: on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, update

from app.store import BatchChanges, Failure, IdMapping, LogEntry, RunInfo, Store
from app.store.models import LogRow
from app.store.tables import LOG, RUNS, utc_now
from tests.services import FreshPostgresDatabase, require_service

SYNC = "contacts"


async def _run_with_log(store: Store, sync: str, keys: list[str], action: str = "created") -> int:
    run_id = await store.start_run(sync, "manual")
    log: list[LogRow] = [LogEntry(key, f"T{key}", action) for key in keys]
    await store.commit_batch(sync, run_id, BatchChanges(log=log))
    return run_id


async def test_runs_page_newest_first_and_filter_by_sync_and_status(store: Store) -> None:
    ids = [await store.start_run(SYNC if n % 2 == 0 else "other", "manual") for n in range(6)]
    await store.finish_run(ids[0], "failed", "target down")
    await store.finish_run(ids[2], "succeeded")
    await store.finish_run(ids[3], "succeeded")

    def of(runs: list[RunInfo]) -> list[int]:
        return [run.id for run in runs]

    first = await store.history.runs(None, None, None, 4)
    rest = await store.history.runs(None, None, first[-1].id, 4)
    assert of(first) + of(rest) == ids[::-1]
    assert of(await store.history.runs(SYNC, None, None, 10)) == [ids[4], ids[2], ids[0]]
    assert of(await store.history.runs(None, "succeeded", None, 10)) == [ids[3], ids[2]]
    assert of(await store.history.runs(SYNC, "succeeded", None, 10)) == [ids[2]]
    assert of(await store.history.runs(SYNC, None, ids[2], 10)) == [ids[0]]
    assert of(await store.history.running()) == [ids[5], ids[4], ids[1]]
    assert (await store.history.runs(None, "failed", None, 1))[0].error == "target down"


async def test_a_runs_record_log_pages_oldest_first(store: Store) -> None:
    run_id = await _run_with_log(store, SYNC, ["1", "2", "3"])
    await store.commit_batch(SYNC, run_id, BatchChanges(log=[LogEntry("4", None, "failed", "field email: required")]))
    await _run_with_log(store, SYNC, ["9"])  # another run's entries stay out

    first = await store.history.log(run_id, None, 3)
    rest = await store.history.log(run_id, first[-1].id, 3)

    assert [entry.source_key for entry in first] == ["1", "2", "3"]
    assert [(e.source_key, e.target_key, e.action, e.error) for e in rest] == [
        ("4", None, "failed", "field email: required")
    ]
    assert await store.history.log(run_id, rest[-1].id, 3) == []
    assert {(entry.run_id, entry.sync) for entry in first + rest} == {(run_id, SYNC)}
    assert all(entry.at.tzinfo is not None for entry in first)


async def test_a_runs_record_log_filtered_by_action(store: Store) -> None:
    run_id = await _run_with_log(store, SYNC, ["1", "2"])
    failures: list[LogRow] = [LogEntry(key, None, "failed", "field email: required") for key in ("3", "4", "5")]
    await store.commit_batch(SYNC, run_id, BatchChanges(log=failures))

    first = await store.history.log(run_id, None, 2, "failed")

    assert [entry.source_key for entry in first] == ["3", "4"]
    assert [entry.source_key for entry in await store.history.log(run_id, first[-1].id, 2, "failed")] == ["5"]
    assert [entry.source_key for entry in await store.history.log(run_id, None, 10, "created")] == ["1", "2"]
    assert await store.history.log(run_id, None, 10, "deleted") == []


async def test_a_records_story_has_its_id_map_entry_and_its_log_newest_first(store: Store) -> None:
    first = await store.start_run(SYNC, "manual")
    await store.commit_batch(
        SYNC, first, BatchChanges(mapped=[("7", "C7", "h1")], log=[LogEntry("7", "C7", "created")])
    )
    second = await store.start_run(SYNC, "manual")
    await store.commit_batch(
        SYNC, second, BatchChanges(mapped=[("7", "C7", "h2")], log=[LogEntry("7", "C7", "updated")])
    )
    await _run_with_log(store, "other", ["7"])

    story = await store.history.story(SYNC, "7")

    assert story.id_map == IdMapping("C7", "h2")
    assert story.updated_at is not None
    assert [(entry.run_id, entry.action) for entry in story.entries] == [(second, "updated"), (first, "created")]
    assert story.seen
    unknown = await store.history.story(SYNC, "8")
    assert (unknown.id_map, unknown.updated_at, unknown.entries, unknown.seen) == (None, None, [], False)
    assert not (await store.history.story("other", "8")).seen


async def test_a_key_with_only_a_dead_letter_was_seen(store: Store) -> None:
    """Retention may have purged a failed record's log entries: its dead letter (even a discarded one) stays."""
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("5", {"id": 5}, "bad", "mapping")]))
    [letter] = await store.history.dead_letters(SYNC, None, 10)

    assert (await store.history.story(SYNC, "5")).seen
    assert not (await store.history.story("other", "5")).seen
    await store.history.discard(letter.id, "discarded by ops")
    assert (await store.history.story(SYNC, "5")).seen


async def test_dead_letters_are_got_paged_by_sync_and_discarded_into_the_log(store: Store) -> None:
    run_id = await store.start_run(SYNC, "manual")
    failures = [Failure(str(n), {"id": n}, f"error {n}", "mapping") for n in range(3)]
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=failures))
    other_run = await store.start_run("other", "manual")
    await store.commit_batch("other", other_run, BatchChanges(failures=[Failure("x", {}, "e", "write")]))

    everything = await store.history.dead_letters(None, None, 10)
    first = await store.history.dead_letters(SYNC, None, 2)
    rest = await store.history.dead_letters(SYNC, first[-1].id, 2)
    assert [letter.sync for letter in everything] == [SYNC, SYNC, SYNC, "other"]
    assert [letter.source_key for letter in first + rest] == ["0", "1", "2"]

    letter = await store.history.dead_letter(first[1].id)
    assert letter is not None and (letter.source_key, letter.record, letter.error) == ("1", {"id": 1}, "error 1")
    assert await store.history.dead_letter(10_000) is None

    discarded = await store.history.discard(letter.id, "dead letter discarded by ops")
    assert discarded == letter
    assert await store.history.dead_letter(letter.id) is None
    assert await store.dead_letter_counts() == {SYNC: 2, "other": 1}
    assert [(e.run_id, e.action, e.error) for e in (await store.history.story(SYNC, "1")).entries] == [
        (0, "skipped", "dead letter discarded by ops")  # no run's: the run that failed it is over
    ]
    assert await store.history.discard(letter.id, "again") is None


async def test_a_dead_letter_discarded_twice_at_once_is_discarded_and_logged_once(store: Store) -> None:
    """Two operators (or a double click) discard the same dead letter at the same moment: one discards it,
    the other finds it gone (the API's 404), and its story says it was discarded once, not twice."""
    run_id = await store.start_run(SYNC, "manual")
    await store.commit_batch(SYNC, run_id, BatchChanges(failures=[Failure("7", {"id": 7}, "bad", "mapping")]))
    [letter] = await store.history.dead_letters(SYNC, None, 10)

    outcomes = await asyncio.gather(*(store.history.discard(letter.id, f"discarded by {n}") for n in range(2)))

    assert sorted(outcome is None for outcome in outcomes) == [False, True], outcomes
    entries = (await store.history.story(SYNC, "7")).entries
    assert [entry.action for entry in entries] == ["skipped"], [(e.action, e.error) for e in entries]


async def test_purging_forgets_old_finished_runs_and_old_log_entries(store: Store) -> None:
    old = await _run_with_log(store, SYNC, ["1", "2"])
    await store.finish_run(old, "succeeded")
    old_running = await _run_with_log(store, SYNC, ["3"])
    recent = await _run_with_log(store, SYNC, ["4"])
    await store.finish_run(recent, "succeeded")
    long_ago = utc_now() - timedelta(days=10)
    async with store.engine.begin() as connection:
        await connection.execute(update(RUNS).where(RUNS.c.id.in_([old, old_running])).values(started_at=long_ago))
        await connection.execute(update(LOG).where(LOG.c.run_id.in_([old, old_running])).values(at=long_ago))

    week_ago = utc_now() - timedelta(days=7)
    purged = await store.history.purge(week_ago, week_ago)

    assert purged == (1, 3)
    assert [run.id for run in await store.history.runs(SYNC, None, None, 10)] == [recent, old_running]
    assert [entry.source_key for entry in await store.history.log(recent, None, 10)] == ["4"]
    assert await store.history.log(old_running, None, 10) == []
    assert await store.history.purge(week_ago, week_ago) == (0, 0)


async def test_runs_and_log_entries_have_their_own_retention(store: Store) -> None:
    run_id = await _run_with_log(store, SYNC, ["1"])
    await store.finish_run(run_id, "succeeded")
    now = utc_now()

    assert await store.history.purge(now - timedelta(days=1), now + timedelta(seconds=1)) == (0, 1)
    assert await store.run(run_id) is not None
    assert await store.history.purge(now + timedelta(seconds=1), now - timedelta(days=1)) == (1, 0)
    assert await store.run(run_id) is None


async def test_log_entries_outlive_their_purged_run_until_their_own_retention(store: Store) -> None:
    old = await _run_with_log(store, SYNC, ["1"])
    await store.finish_run(old, "succeeded")
    long_ago = utc_now() - timedelta(days=10)
    async with store.engine.begin() as connection:
        await connection.execute(update(RUNS).where(RUNS.c.id == old).values(started_at=long_ago))
        await connection.execute(update(LOG).where(LOG.c.run_id == old).values(at=long_ago))
    week_ago = utc_now() - timedelta(days=7)
    assert await store.history.purge(week_ago, long_ago - timedelta(days=1)) == (1, 0)
    newer = await _run_with_log(store, SYNC, ["2"])

    assert await store.history.purge(week_ago, week_ago) == (0, 1)
    assert [entry.run_id for entry in (await store.history.story(SYNC, "1")).entries] == []
    assert [entry.run_id for entry in (await store.history.story(SYNC, "2")).entries] == [newer]


async def test_abandoning_marks_a_syncs_running_runs_failed(store: Store) -> None:
    running = [await store.start_run(SYNC, "schedule") for _ in range(2)]
    other = await store.start_run("other", "schedule")
    done = await store.start_run(SYNC, "manual")
    await store.finish_run(done, "succeeded")
    before = datetime.now(UTC)

    assert await store.history.abandon(SYNC, "abandoned: the process running it stopped") == 2

    for run_id in running:
        run = await store.run(run_id)
        assert run is not None and (run.status, run.error) == ("failed", "abandoned: the process running it stopped")
        assert run.finished_at is not None and run.finished_at >= before - timedelta(seconds=1)
    assert [run.status for run in await store.history.runs(None, None, None, 10) if run.id in (other, done)] == [
        "succeeded",
        "running",
    ]
    assert await store.history.abandon(SYNC, "again") == 0


async def test_a_page_of_a_late_runs_log_reads_only_that_run_on_postgresql(tmp_path: Path) -> None:
    """The planner, asked for a run's first entries in id order, walked the primary key from the oldest entry
    and read every older run's on the way (0.33 s a page behind 2,000,000 entries, growing with the log)."""
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        store = await Store.open(url, tmp_path)
        statements: list[tuple[str, Any]] = []

        def executed(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if "FROM record_log" in statement:
                statements.append((statement, parameters))

        try:
            async with store.engine.begin() as connection:
                await connection.exec_driver_sql(
                    "INSERT INTO record_log (run_id, sync, source_key, action, at) "
                    "SELECT g / 50000 + 1, 's', g::text, 'created', now() FROM generate_series(0, 299999) g"
                )
                await connection.exec_driver_sql("ANALYZE record_log")
            event.listen(store.engine.sync_engine, "before_cursor_execute", executed)
            page = await store.history.log(6, None, 50)
            [(statement, parameters)] = statements
            async with store.engine.connect() as connection:
                plan = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
                shown = json.dumps(plan.scalar())
        finally:
            await store.close()

    assert [entry.source_key for entry in page] == [str(number) for number in range(250000, 250050)]
    assert "record_log_pkey" not in shown, shown
