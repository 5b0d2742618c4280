"""Look-ups by many keys come in a few statement shapes on SQLite, not one per count of keys.

SQLite prepares a statement for each IN list length it meets (~650 KB of its memory for 4,000 keys),
and the driver keeps the last 128 prepared: a first load, whose look-ups have a new count of keys in
every batch, grew a run by ~60 MB over 1,000,000 records. Each count is measured here, not memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.records import loads
from app.store import BatchChanges, IdMapping, LogEntry, Store
from app.store.models import LogRow

SYNC = "contacts"


async def _open_with_statements(tmp_path: Path, seen: list[str]) -> Store:
    store = await Store.open(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)

    def executed(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", executed)
    return store


async def test_id_map_look_ups_of_every_count_of_keys_take_a_few_statement_shapes(tmp_path: Path) -> None:
    seen: list[str] = []
    store = await _open_with_statements(tmp_path, seen)
    try:
        run_id = await store.start_run(SYNC, "manual")
        await store.commit_batch(
            SYNC, run_id, BatchChanges(new_mappings=[("7", "C-7", "h7"), ("300", "C-300", "h300")])
        )
        seen.clear()

        found = [await store.id_map(SYNC, [str(key) for key in range(1, count + 1)]) for count in range(1, 301)]
    finally:
        await store.close()

    assert found[5] == {}
    assert found[6] == found[298] == {"7": IdMapping("C-7", "h7")}
    assert found[299] == {"7": IdMapping("C-7", "h7"), "300": IdMapping("C-300", "h300")}
    shapes = {statement for statement in seen if "id_map" in statement}
    assert len(shapes) <= 10, f"{len(shapes)} statement shapes for 300 counts of keys"


async def test_a_batch_s_state_rows_go_many_to_a_statement_in_their_order(tmp_path: Path) -> None:
    runs: list[int] = []  # rows each statement that wrote the ID map or the record log ran with
    store = await Store.open(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)

    def executed(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.startswith(("INSERT INTO id_map", "INSERT INTO record_log")):
            runs.extend([len(row) for row in parameters] if many else [len(parameters)])

    event.listen(store.engine.sync_engine, "before_cursor_execute", executed)
    keys = [str(number) for number in range(1, 1001)]
    try:
        run_id = await store.start_run(SYNC, "manual")
        await store.commit_batch(SYNC, run_id, BatchChanges(new_mappings=[(key, f"C-{key}", "h1") for key in keys]))
        # "5" twice: the last one stands
        again: list[tuple[str, str | None, str]] = [(key, f"D-{key}", "h2") for key in [*keys[:333], "5"]]
        log: list[LogRow] = [LogEntry(key, f"D-{key}", "updated", None, {"n": key}) for key in keys[:333]]
        await store.commit_batch(SYNC, run_id, BatchChanges(mapped=again, log=log))
        mapped = await store.id_map(SYNC, keys)
        entries = await store.log_entries(run_id)
    finally:
        await store.close()

    assert len(runs) <= 16, f"{len(runs)} statements for 1,000 ID-map rows, 334 upserts and 333 log rows"
    assert sum(runs) == 6 * 1000 + 6 * 334 + 8 * 333  # every row's every value, once
    assert mapped["5"] == IdMapping("D-5", "h2")
    assert mapped["333"] == IdMapping("D-333", "h2")
    assert mapped["334"] == IdMapping("C-334", "h1")
    assert mapped["1000"] == IdMapping("C-1000", "h1")
    assert [entry["source_key"] for entry in entries] == keys[:333]  # ids in the order logged
    assert [loads(entry["detail"]) for entry in entries[-2:]] == [{"n": "332"}, {"n": "333"}]
