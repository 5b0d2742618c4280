"""The contract suite catches a connector that breaks the contract: each flaw, the check that fails on it.

Each flawed connector is the ``csv`` kind (which passes, tests/connectors/csv/test_contract.py) with one
thing done wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    PermanentError,
    Record,
    Write,
    WriteResult,
    create_connector,
)
from connectors.csv.connector import CsvConnector
from connectors.testing import ConnectorContract, Subject, configured_system

SECRET = "hunter2-7d1c"
STREAMS = {"people": {"file": "people.csv", "key": "id"}}


class SkipsOnResume(CsvConnector):
    """Checkpoints say "after the batch's last record" but a resumed read starts one record later."""

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        start = int((checkpoint or {}).get("after", -1)) + 2 if checkpoint else 0
        records = [record async for batch in super().read(stream, None, 1000) for record in batch.records][start:]
        for offset in range(0, len(records), batch_size):
            yield Batch(records[offset : offset + batch_size], {"after": start + offset + batch_size - 1})


class RefusesTheWholeBatch(CsvConnector):
    """Fails every write of a batch for one refused record."""

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        results = await super().write(stream, [])
        if any(write.record and write.record.get("id") is None for write in writes):
            error = PermanentError("a record has no id")
            return [WriteResult(None, error) for _ in writes]
        return results + await super().write(stream, writes)


class CallsAPassingFailurePermanent(CsvConnector):
    async def check(self) -> None:
        raise PermanentError("people: connection reset: will not try again")


class ShowsItsSecret(CsvConnector):
    async def check(self) -> None:
        raise PermanentError(f"login refused for password {SECRET}")


class GetsKeysThatAreNotThere(CsvConnector):
    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        found = await super().get(stream, keys)
        return found | {key: {"id": key} for key in keys}


def flawed(kind: type[Connector], root: Path) -> Connector:
    connector = create_connector(configured_system(root, "csv", {"path": "files", "streams": STREAMS}))
    connector.__class__ = kind
    return connector


def subject(root: Path, kind: type[Connector]) -> Subject:
    (root / "files").mkdir()
    (root / "files" / "people.csv").write_text("id,name\n1,Ada\n2,Bo\n3,Cy\n4,Di\n5,Ed\n", encoding="utf-8")
    made = lambda: flawed(kind, root)  # noqa: E731 - one expression
    return Subject(
        make=made,
        stream="people",
        key="id",
        records=[{"id": str(number), "name": name} for number, name in enumerate(["Ada", "Bo", "Cy", "Di", "Ed"], 1)],
        new_records=[{"id": "6", "name": "Fa"}, {"id": "7", "name": "Gu"}],
        changed={"name": "Ada L"},
        refused={"id": None, "name": "Ha"},
        unreachable=made,
        refusing=made,
        secret=SECRET,
    )


Check = Callable[[ConnectorContract, Subject], Awaitable[Any]]


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        (SkipsOnResume, ConnectorContract.test_a_read_cut_off_and_resumed_never_skips),
        (RefusesTheWholeBatch, ConnectorContract.test_a_refused_record_fails_alone),
        (CallsAPassingFailurePermanent, ConnectorContract.test_a_system_that_does_not_answer_is_a_passing_error),
        (ShowsItsSecret, ConnectorContract.test_no_error_shows_a_secret),
        (GetsKeysThatAreNotThere, ConnectorContract.test_reads_by_key),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
async def test_the_suite_fails_a_flawed_connector(tmp_path: Path, kind: type[Connector], check: Check) -> None:
    with pytest.raises(AssertionError):
        await check(ConnectorContract(), subject(tmp_path, kind))


async def test_the_flawless_csv_kind_passes_those_checks(tmp_path: Path) -> None:
    """The flaws above are what fails: the same checks pass over the csv kind itself."""
    suite, made = ConnectorContract(), subject(tmp_path, CsvConnector)
    made.unreachable = made.refusing = None
    made.secret = None
    for check in (
        ConnectorContract.test_a_read_cut_off_and_resumed_never_skips,
        ConnectorContract.test_a_refused_record_fails_alone,
        ConnectorContract.test_reads_by_key,
    ):
        await check(suite, made)
