"""The ``jsonl`` kind passes Brygga's connector contract suite."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    Connector,
    PermanentError,
    UnreadableValue,
    Write,
    WriteAction,
    create_connector,
)
from connectors.testing import ConnectorContract, Subject, configured_system

if find_spec("brygga_jsonl") is None and os.environ.get("BRYGGA_REQUIRE_SERVICES") != "1":
    pytest.skip("brygga-jsonl is not installed: pip install -e examples/jsonl", allow_module_level=True)

STREAMS = {"people": {"file": "people.jsonl", "key": "id"}, "gone": {"file": "gone.jsonl", "key": "id"}}
RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "Ada", "city": "Oslo"},
    {"id": 2, "name": "Bo", "city": "Umeå"},
    {"id": 3, "name": "Cy", "city": None},
]


def jsonl_system(root: Path, path: str = "data") -> Connector:
    """A connector made as the engine makes it: by the kind's name, through the entry point."""
    return create_connector(configured_system(root, "jsonl", {"path": path, "streams": STREAMS}))


class TestJsonLinesContract(ConnectorContract):
    @pytest.fixture
    def subject(self, tmp_path: Path) -> Subject:
        (tmp_path / "data").mkdir()
        lines = ['{"id": 1, "name": "Ada", "city": "Oslo"}', '{"id": 2, "name": "Bo", "city": "Umeå"}', ""]
        lines.append('{"id": 3, "name": "Cy", "city": null}')
        (tmp_path / "data" / "people.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp_path / "other").mkdir()
        return Subject(
            make=lambda: jsonl_system(tmp_path),
            stream="people",
            key="id",
            records=RECORDS,
            new_records=[{"id": 4, "name": "Di", "city": "Bergen"}, {"id": 5, "name": "Ed", "city": "Malmö"}],
            changed={"city": "Lund"},
            refused={"id": None, "name": "Fa", "city": "Lund"},
            refusing=lambda: jsonl_system(tmp_path / "other", path="no-such-folder"),
            missing_stream="gone",
        )


async def test_a_line_that_is_not_a_record_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.jsonl").write_text('{"id": 1}\n[1, 2]\n', encoding="utf-8")

    async with jsonl_system(tmp_path) as connector:
        with pytest.raises(Exception, match=r"people.jsonl\):2: a line must hold one JSON object"):
            [batch async for batch in connector.read("people", None, 10)]


async def test_numbers_are_kept_exactly(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.jsonl").write_text('{"id": 1, "credit": 1234567890.123456789012}\n', encoding="utf-8")

    async with jsonl_system(tmp_path) as connector:
        await connector.write("people", [])
    assert (tmp_path / "data" / "people.jsonl").read_text(
        encoding="utf-8"
    ) == '{"id":1,"credit":1234567890.123456789012}\n'


async def test_a_line_nested_deeper_than_the_parser_goes_is_read_with_that_part_unreadable(tmp_path: Path) -> None:
    """The SDK's parse_json cuts it there, naming the line: its record fails alone where a sync maps it."""
    (tmp_path / "data").mkdir()
    deep = "[" * 5_000 + "]" * 5_000
    (tmp_path / "data" / "people.jsonl").write_text(f'{{"id": 1, "deep": {deep}}}\n{{"id": 2}}\n', encoding="utf-8")

    async with jsonl_system(tmp_path) as connector:
        [batch] = [batch async for batch in connector.read("people", None, 10)]

    first, second = batch.records
    deep_value = first["deep"]
    while isinstance(deep_value, list):
        [deep_value] = deep_value
    assert second == {"id": 2}
    assert isinstance(deep_value, UnreadableValue) and deep_value.where.endswith("people.jsonl):1"), deep_value


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"id": 9, "score": float("nan")}, "score is nan, a number JSON cannot hold"),
        ({"id": 9, "score": float("-inf")}, "score is -inf, a number JSON cannot hold"),
        ({"id": 9, "score": Decimal("Infinity")}, "score is Infinity, a number JSON cannot hold"),
        ({"id": 9, "a": {"b": [1, Decimal("NaN")]}}, "a.b[1] is NaN, a number JSON cannot hold"),
        (
            {"id": 9, "photo": b"\x89PNG"},
            "photo is bytes, which JSON cannot hold: map it to text first (a transform or an expression)",
        ),
    ],
)
async def test_a_record_json_cannot_hold_fails_alone_and_the_file_stays_json_lines(
    tmp_path: Path, record: dict[str, Any], problem: str
) -> None:
    """A float NaN was written as ``null`` (the value lost silently), a decimal one as ``NaN`` and bytes as
    ``b'…'``: a file no JSON reader takes, or text that reads back as another value."""
    (tmp_path / "data").mkdir()
    async with jsonl_system(tmp_path) as connector:
        fine = Write(WriteAction.CREATE, {"id": 1, "score": 0.5, "at": Decimal("1.10")}, None)
        results = await connector.write("people", [fine, Write(WriteAction.CREATE, record, None)])

    assert results[0].ok and isinstance(results[1].error, PermanentError)
    assert str(results[1].error).endswith(f"people.jsonl): not written: {problem}")
    lines = (tmp_path / "data" / "people.jsonl").read_bytes().splitlines()
    assert [json.loads(line) for line in lines] == [{"id": 1, "score": 0.5, "at": 1.1}]
