"""The connector contract suite: what the engine relies on, checked against one connector kind.

Every built-in kind passes it; a connector author runs it over their own kind.
Subclass :class:`ConnectorContract` in a test module and give it a
``subject`` fixture that returns a :class:`Subject`: a way to make the
connector, and a stream already holding known records::

    import pytest
    from connectors.base import create_connector
    from connectors.testing import ConnectorContract, Subject, configured_system

    OPTIONS = {"path": "data", "streams": {"people": {"file": "people.jsonl", "key": "id"}}}

    class TestJsonLines(ConnectorContract):
        @pytest.fixture
        def subject(self, tmp_path):
            ...  # three records into data/people.jsonl
            make = lambda: create_connector(configured_system(tmp_path, "jsonl", OPTIONS))
            return Subject(make=make, stream="people", key="id", records=[...], new_records=[...], ...)

:func:`configured_system` makes the system from options as a project's YAML gives them.
The suite's tests are coroutines: run them with pytest-asyncio (``asyncio_mode = "auto"``).

What a kind cannot do it declares as :mod:`connectors.base` says: :meth:`~connectors.base.Connector.get`
or :meth:`~connectors.base.Connector.write` raising :class:`NotImplementedError`. The checks that need it
are skipped, saying so; so are the checks whose material the subject does not give (no refused record,
no unreachable system).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.config import load_project
from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    ConnectorError,
    PermanentError,
    Record,
    SystemConfig,
    TransientError,
    Write,
    WriteAction,
    WriteResult,
    key_text,
)


@dataclass
class Subject:
    """A connector kind under test, and a stream of known records.

    :param make: a new, unopened connector on the system (each read of a resumed run gets a new one)
    :param stream: a stream holding ``records`` (and nothing else)
    :param key: the stream's key field
    :param records: what the stream holds, at least three, as the connector reads them (read records may
        hold more fields; those given must be equal)
    :param new_records: at least two records the stream does not hold, to create (with their key, unless the
        system assigns keys); where reads are incremental, later by the cursor than every one of ``records``
    :param changed: field → value that an update writes over ``records[0]``
    :param refused: a record with the fields of ``new_records`` that the system refuses for good (no key,
        a required field empty, a value too long): its create must fail alone; ``None`` when the kind refuses
        no record
    :param unreachable: a connector on a system that does not answer now (a closed port): a passing error
    :param refusing: a connector on a system that refuses for good (a missing database or folder, wrong
        credentials): a permanent error
    :param missing_stream: a stream the system declares whose table or file does not exist
    :param secret: a password or token in the options of the system(s): no error may show it
    :param deletes: whether the stream takes deletes
    """

    make: Callable[[], Connector]
    stream: str
    key: str
    records: list[Record]
    new_records: list[Record] = field(default_factory=list)
    changed: Record = field(default_factory=dict)
    refused: Record | None = None
    unreachable: Callable[[], Connector] | None = None
    refusing: Callable[[], Connector] | None = None
    missing_stream: str | None = None
    secret: str | None = None
    deletes: bool = True


def configured_system(
    root: Path, kind: str, options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> SystemConfig:
    """A system of ``kind`` as the engine gets it: written to ``root/brygga.yaml`` (named ``system``), loaded
    and validated as a project is, ``${VARIABLES}`` filled from ``environ``, paths relative to ``root``.

    :param options: the system's options (``streams`` included), as its YAML would give them
    :raises ConfigError: when the options are not valid (the message says where, as ``brygga validate`` does)
    """
    project = {"version": 1, "systems": {"system": {"connector": kind, **options}}}
    (root / "brygga.yaml").write_text(json.dumps(project), encoding="utf-8")
    return load_project(root / "brygga.yaml", environ=dict(environ or {})).systems["system"]


@asynccontextmanager
async def opened(make: Callable[[], Connector]) -> AsyncIterator[Connector]:
    """A connector from ``make``, opened, and closed after the block."""
    connector = make()
    async with connector:
        yield connector


async def read_all(connector: Connector, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> list[Batch]:
    """Every batch of one read."""
    return [batch async for batch in connector.read(stream, checkpoint, batch_size)]


def keys_of(records: Sequence[Record], key: str) -> list[str]:
    """The records' keys, as text (how keys cross the connector boundary)."""
    return [key_text(record[key]) for record in records]


def by_key(batches: Sequence[Batch], key: str) -> dict[str, Record]:
    return {key_text(record[key]): record for batch in batches for record in batch.records}


def assert_holds(read: Record, expected: Record) -> None:
    """``read`` has every field of ``expected``, equal."""
    differing = {name: (read.get(name), value) for name, value in expected.items() if read.get(name) != value}
    assert differing == {}, f"fields read differ from those expected (read, expected): {differing}"


def messages(error: BaseException) -> list[str]:
    """What an error shows: its own message and those of the errors it was raised from."""
    shown: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(shown) < 10:
        shown += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return shown


def assert_answers(results: Sequence[WriteResult], keys: Sequence[str | None]) -> None:
    """``results`` answer writes to these target keys (``None``: a key the system assigns): one result per
    write, in order, as text, each with its own write's key. The engine fails a record answered with
    another's key, and a run answered with too few or too many results."""
    assert isinstance(results, list), f"write returned {type(results).__name__}, not a list of WriteResult"
    assert len(results) == len(keys), f"{len(keys)} writes answered with {len(results)} results"
    for result, key in zip(results, keys, strict=True):
        assert isinstance(result, WriteResult), f"write answered with {result!r}, not a WriteResult"
        assert result.target_key is None or isinstance(result.target_key, str), f"a key not as text: {result}"
        if key is not None and result.error is None:
            assert result.target_key in (None, key), f"the write of {key} answered with {result.target_key}"


def require(value: Any, reason: str) -> Any:
    if value is None or (isinstance(value, list | dict) and not value):
        pytest.skip(reason)
    return value


class ConnectorContract:
    """The suite: subclass it and give a ``subject`` fixture (see the module's docstring)."""

    batch_size = 2
    """Small, so that every stream of three records or more is read in several batches."""

    # --- reading -----------------------------------------------------------

    async def test_reads_every_record(self, subject: Subject) -> None:
        async with opened(subject.make) as connector:
            await connector.prepare(subject.stream)
            batches = await read_all(connector, subject.stream, None, self.batch_size)
        assert all(len(batch.records) <= self.batch_size for batch in batches), "a batch holds more than batch_size"
        for number, batch in enumerate(batches):
            again = batch.originals
            assert again is None or all(again(at) == record for at, record in enumerate(batch.records)), (
                f"batch {number + 1}'s originals give a record other than the one read"
            )
        read = by_key(batches, subject.key)
        assert sorted(read) == sorted(keys_of(subject.records, subject.key))
        for record in subject.records:
            assert_holds(read[key_text(record[subject.key])], record)

    async def test_a_read_cut_off_and_resumed_never_skips(self, subject: Subject) -> None:
        """A run that stopped after any batch resumes from that batch's checkpoint and misses nothing."""
        assert len(subject.records) >= 3, "the subject's stream needs at least three records"
        async with opened(subject.make) as connector:
            batches = await read_all(connector, subject.stream, None, self.batch_size)
        expected = set(keys_of(subject.records, subject.key))
        for cut, batch in enumerate(batches):
            async with opened(subject.make) as connector:
                resumed = await read_all(connector, subject.stream, batch.checkpoint, self.batch_size)
            seen = set(by_key(batches[: cut + 1], subject.key)) | set(by_key(resumed, subject.key))
            assert expected - seen == set(), f"resumed after batch {cut + 1} of {len(batches)}: records skipped"

    async def test_a_read_from_the_last_checkpoint_sees_new_records(self, subject: Subject) -> None:
        new = require(subject.new_records, "the subject gives no new records")
        async with opened(subject.make) as connector:
            batches = await read_all(connector, subject.stream, None, self.batch_size)
            results = await self._create(connector, subject, new[:1])
            assert [result.error for result in results] == [None]
            later = await read_all(connector, subject.stream, batches[-1].checkpoint, self.batch_size)
        assert any(self._same(record, new[0], subject) for batch in later for record in batch.records)

    async def test_reads_by_key(self, subject: Subject) -> None:
        """Two keys that exist and one that does not (a number, which fits most key types)."""
        wanted = keys_of(subject.records[:2], subject.key)
        async with opened(subject.make) as connector:
            await connector.prepare(subject.stream)
            try:
                found = await connector.get(subject.stream, [*wanted, "987654321"])
            except NotImplementedError as exc:
                pytest.skip(f"the kind cannot look records up by key: {exc}")
            existing = await connector.existing_keys(subject.stream, [*wanted, "987654321"])
        assert sorted(found) == sorted(wanted)
        for record in subject.records[:2]:
            assert_holds(found[key_text(record[subject.key])], record)
        assert existing == set(wanted)

    async def test_scans_every_key(self, subject: Subject) -> None:
        async with opened(subject.make) as connector:
            scanned = [key async for keys in connector.scan_keys(subject.stream, self.batch_size) for key in keys]
        assert sorted(scanned) == sorted(keys_of(subject.records, subject.key))

    # --- writing -----------------------------------------------------------

    async def test_creates_updates_and_deletes(self, subject: Subject) -> None:
        new = require(subject.new_records, "the subject gives no new records")
        async with opened(subject.make) as connector:
            created = await self._create(connector, subject, new)
            assert_answers(created, [self._target_key(connector, record, subject) for record in new])
            assert [result.error for result in created] == [None] * len(new)
            assert all(result.created in (True, None) for result in created), "a create reported as an update"
            new_keys = [str(result.target_key) for result in created]

            first = subject.records[0]
            first_key = key_text(first[subject.key])
            updated = await connector.write(
                subject.stream, [Write(WriteAction.UPDATE, {**first, **subject.changed}, first_key)]
            )
            assert_answers(updated, [first_key])
            assert [result.error for result in updated] == [None]
            assert updated[0].created in (False, None), "an update of an existing record reported as a create"

            if subject.deletes:
                deleted = await connector.write(subject.stream, [Write(WriteAction.DELETE, None, new_keys[0])])
                assert [result.error for result in deleted] == [None]
            read = by_key(await read_all(connector, subject.stream, None, 1000), subject.key)

        assert_holds(read[first_key], {**first, **subject.changed})
        assert (new_keys[0] in read) is not subject.deletes
        for record in new[1:]:
            assert any(self._same(found, record, subject) for found in read.values())

    async def test_a_refused_record_fails_alone(self, subject: Subject) -> None:
        refused = require(subject.refused, "the subject gives no record the system refuses")
        new = require(subject.new_records, "the subject gives no new records")
        async with opened(subject.make) as connector:
            results = await self._create(connector, subject, [new[0], refused, new[1]])
            assert_answers(
                results, [self._target_key(connector, record, subject) for record in (new[0], refused, new[1])]
            )
            read = await read_all(connector, subject.stream, None, 1000)
        assert isinstance(results[1].error, PermanentError), f"the refused record's result: {results[1]}"
        assert [results[0].error, results[2].error] == [None, None]
        for record in (new[0], new[1]):
            assert any(self._same(found, record, subject) for batch in read for found in batch.records)

    # --- errors ------------------------------------------------------------

    async def test_a_system_that_does_not_answer_is_a_passing_error(self, subject: Subject) -> None:
        make = require(subject.unreachable, "the subject gives no unreachable system")
        error = await self._failure(make, subject.stream)
        assert isinstance(error, TransientError), f"{type(error).__name__}: {error}"

    async def test_a_system_that_refuses_is_a_permanent_error(self, subject: Subject) -> None:
        make = require(subject.refusing, "the subject gives no refusing system")
        error = await self._failure(make, subject.stream)
        assert isinstance(error, PermanentError), f"{type(error).__name__}: {error}"

    async def test_a_missing_stream_is_a_permanent_error(self, subject: Subject) -> None:
        stream = require(subject.missing_stream, "the subject gives no missing stream")
        async with opened(subject.make) as connector:
            with pytest.raises(PermanentError) as raised:
                await connector.prepare(stream)
                await read_all(connector, stream, None, self.batch_size)
        assert str(raised.value).strip(), "the error says nothing"

    async def test_no_error_shows_a_secret(self, subject: Subject) -> None:
        secret = require(subject.secret, "the subject's options hold no secret")
        errors: list[BaseException] = []
        for make in (subject.unreachable, subject.refusing):
            if make is not None:
                errors.append(await self._failure(make, subject.stream))
        if subject.missing_stream is not None:
            async with opened(subject.make) as connector:
                errors.append(await self._prepare_failure(connector, subject.missing_stream))
        if subject.refused is not None and subject.new_records:
            async with opened(subject.make) as connector:
                results = await self._create(connector, subject, [subject.refused])
            errors += [result.error for result in results if result.error is not None]
        assert errors, "no error was provoked"
        showing = [text for error in errors for text in messages(error) if secret in text]
        assert showing == [], "errors show the secret"

    # --- helpers -----------------------------------------------------------

    async def _create(self, connector: Connector, subject: Subject, records: Sequence[Record]) -> list[WriteResult]:
        fields = sorted({name for record in subject.new_records for name in record})
        await connector.prepare(subject.stream, write_fields=fields)
        writes = [Write(WriteAction.CREATE, record, self._target_key(connector, record, subject)) for record in records]
        try:
            return await connector.write(subject.stream, writes)
        except NotImplementedError as exc:
            pytest.skip(f"the kind cannot write: {exc}")

    def _target_key(self, connector: Connector, record: Record, subject: Subject) -> str | None:
        if connector.assigns_keys or record.get(subject.key) is None:
            return None
        return key_text(record[subject.key])

    def _same(self, read: Record, written: Record, subject: Subject) -> bool:
        """Whether ``read`` is ``written`` (on every field but a key the system assigned)."""
        return all(read.get(name) == value for name, value in written.items() if name != subject.key) and (
            subject.key not in written or key_text(read.get(subject.key)) == key_text(written[subject.key])
        )

    async def _failure(self, make: Callable[[], Connector], stream: str) -> ConnectorError:
        """The error of opening, checking and preparing a connector (as a run starts), which must fail."""
        connector = make()
        try:
            await connector.open()
            await connector.check()
            await connector.prepare(stream)
        except ConnectorError as exc:
            return exc
        finally:
            await connector.close()
        pytest.fail(f"opening, checking and preparing '{stream}' succeeded")

    async def _prepare_failure(self, connector: Connector, stream: str) -> ConnectorError:
        try:
            await connector.prepare(stream)
            await read_all(connector, stream, None, self.batch_size)
        except ConnectorError as exc:
            return exc
        pytest.fail(f"preparing and reading the missing stream '{stream}' succeeded")
