"""The ``jsonl`` kind passes Brygga's connector contract suite."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, UnreadableValue, create_connector
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
