"""Hostile answers from the local API: exact numbers, text that is not Unicode, NUL bytes, deep nesting,
empty and huge bodies, and bodies that are not JSON. A bad value fails its record (the engine's part),
never the page; only a body that is not JSON at all fails the read, saying what is wrong with it."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from decimal import Decimal
from typing import Any

import pytest

from app.errors import PermanentError
from app.record_checks import UnreadableValue
from connectors.rest.connector import RestConnector
from tests.connectors.rest.conftest import MakeSystem, read_all
from tests.connectors.rest.server import ApiState


def raw_stream(make_system: MakeSystem, **options: Any) -> RestConnector:
    return make_system({"contacts": {"key": "id", "path": "/raw/page", **options}})


async def records(connector: RestConnector) -> list[dict[str, Any]]:
    return [record for batch in await read_all(connector, "contacts") for record in batch.records]


async def test_numbers_keep_their_exact_value(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"] = (
        b'[{"id": 123456789012345678901234567890, "below": -9223372036854775809, "huge": 1e400,'
        b' "long": 0.30000000000000000001, "plain": 0.1, "price": 2.50, "max": 18446744073709551615,'
        b' "digits": ' + b"7" * 5000 + b"}]"
    )

    [record] = await records(raw_stream(make_system))

    assert record["id"] == 123456789012345678901234567890 and type(record["id"]) is int
    assert record["below"] == -9223372036854775809 and type(record["below"]) is int
    assert record["max"] == 18446744073709551615 and type(record["max"]) is int
    assert record["huge"] == Decimal("1e400") and isinstance(record["huge"], Decimal)
    assert record["long"] == Decimal("0.30000000000000000001") and isinstance(record["long"], Decimal)
    assert (record["plain"], record["price"]) == (0.1, 2.5) and type(record["plain"]) is float
    assert record["digits"] == Decimal("7" * 5000)  # past Python's limit on int() digits


async def test_digits_inside_strings_are_left_as_they_are(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"] = b'[{"id": "123456789012345678901234567890", "version": "1.2.3.4.5.6.7.8.9.10", "n": 7}]'

    assert await records(raw_stream(make_system)) == [
        {"id": "123456789012345678901234567890", "version": "1.2.3.4.5.6.7.8.9.10", "n": 7}
    ]


async def test_a_lone_surrogate_is_handed_on_in_its_record_and_the_page_is_read(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = b'[{"id": 1, "name": "Ann"}, {"id": 2, "name": "B\\ud800o"}, {"id": 3, "name": "Cy"}]'

    read = await records(raw_stream(make_system))

    assert read == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "B\ud800o"}, {"id": 3, "name": "Cy"}]


async def test_bytes_that_are_not_utf8_become_lone_surrogates_in_their_record_only(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = b'[{"id": 1, "city": "Malm\xf6"}, {"id": 2, "city": "Lund"}]'

    read = await records(raw_stream(make_system))

    assert read == [{"id": 1, "city": "Malm\udcf6"}, {"id": 2, "city": "Lund"}]


async def test_a_body_in_the_charset_its_server_names_is_read_in_it(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"], api.raw_type = (
        '[{"id": 1, "city": "Malmö"}]'.encode("latin-1"),
        "application/json; charset=ISO-8859-1",
    )

    assert await records(raw_stream(make_system)) == [{"id": 1, "city": "Malmö"}]


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b'[{"id": 1, "city": "Malm\xf6"}]', "rot13"),  # a codec of text to text, not of bytes
        (b'[{"id": 1, "city": "Malm\xf6"}]', "base64"),
        (b'[{"id": 1, "city": "Malm\xf6"}]', "utf-32"),  # no code point in its first four bytes
    ],
)
async def test_a_body_its_named_charset_cannot_decode_is_read_as_utf8_not_a_crash(
    api: ApiState, make_system: MakeSystem, body: bytes, charset: str
) -> None:
    """Decoding in the named charset raised LookupError or UnicodeDecodeError out of the read, failing the run
    as "an unexpected error", and a create's answer, out of the whole write: its records did not fail alone."""
    api.raw["page"], api.raw_type = body, f"application/json; charset={charset}"

    assert await records(raw_stream(make_system)) == [{"id": 1, "city": "Malm\udcf6"}]


async def test_a_utf16_body_cut_in_a_character_fails_the_read_as_not_json(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = '[{"id": 1, "city": "Malmö"}]'.encode("utf-16-le") + b"\x00\xd8"
    api.raw_type = "application/json; charset=utf-16-le"

    with pytest.raises(
        PermanentError, match=r"the answer \(200, application/json; charset=utf-16-le, 58 bytes\) is not"
    ):
        await records(raw_stream(make_system))


async def test_a_utf8_body_mislabelled_latin1_is_read_as_utf8(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"], api.raw_type = '[{"id": 1, "city": "Malmö"}]'.encode(), "application/json; charset=ISO-8859-1"

    assert await records(raw_stream(make_system)) == [{"id": 1, "city": "Malmö"}]


async def test_nul_bytes_in_strings_are_kept_escaped_or_raw(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"] = b'[{"id": 1, "name": "a\\u0000b"}, {"id": 2, "name": "c\x00d"}]'

    assert await records(raw_stream(make_system)) == [{"id": 1, "name": "a\x00b"}, {"id": 2, "name": "c\x00d"}]


async def test_a_record_nested_100000_levels_deep_is_read_with_that_part_unreadable_and_the_page_too(
    api: ApiState, make_system: MakeSystem
) -> None:
    """It failed the whole page (``is not JSON: it is nested too deeply``), so no record of it arrived; now
    the lists below 254 levels are an unreadable value, for the engine to fail that record alone."""
    api.raw["page"] = b'[{"id": 1, "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b'}, {"id": 2, "name": "Bo"}]'

    first, second = await records(raw_stream(make_system))

    assert second == {"id": 2, "name": "Bo"}
    deep = first["deep"]
    while isinstance(deep, list):
        [deep] = deep
    assert isinstance(deep, UnreadableValue), deep
    assert deep.text == "a list or object nested deeper than 254 levels"
    assert deep.where.startswith("crm.contacts") and "page 1" in deep.where and "/raw/page" in deep.where


async def test_records_nested_deeper_than_orjson_writes_are_read(api: ApiState, make_system: MakeSystem) -> None:
    """Deeper than orjson writes (254 levels), not than it reads (1024): the page is read; hashing such a
    record is the engine's to fail."""
    deep = b"[" * 400 + b"]" * 400
    api.raw["page"] = b'[{"id": 1, "deep": ' + deep + b'}, {"id": 2, "deep": ' + deep + b"}]"

    assert [record["id"] for record in await records(raw_stream(make_system))] == [1, 2]


async def test_an_empty_body_fails_the_read_saying_it_is_empty(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"] = b" \r\n "

    with pytest.raises(
        PermanentError, match=r"crm\.contacts: reading page 1: .*/raw/page: the answer \(200\) is empty"
    ):
        await records(raw_stream(make_system))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[{"id": 1}', r"Expecting ',' delimiter at line 1 column 11"),
        (b'[{"id": 1, "score": NaN}]', r"NaN is not a JSON value"),
        (b"ok", r"Expecting value at line 1 column 1"),
        (b'[{"id": 1}] [{"id": 2}]', r"Extra data at line 1 column 13"),
        (b'[{"id": 1, "deep": ' + b"[" * 5_000 + b"}]", r"'\}' at character 5019 closes nothing open"),
    ],
)
async def test_a_body_that_is_not_json_fails_the_read_saying_what_is_wrong(
    api: ApiState, make_system: MakeSystem, body: bytes, reason: str
) -> None:
    api.raw["page"] = body

    with pytest.raises(
        PermanentError, match=rf"\(200, application/json, {len(body)} bytes\) is not JSON: {reason}"
    ) as failed:
        await records(raw_stream(make_system))

    assert "base_url" not in str(failed.value), "nothing says the address is wrong"


async def test_an_html_page_says_to_check_the_address(api: ApiState, make_system: MakeSystem) -> None:
    api.raw["page"], api.raw_type = b"<!DOCTYPE html><html>Sign in</html>", "text/html; charset=utf-8"

    with pytest.raises(PermanentError, match=r"not JSON \(text/html; charset=utf-8\): check `base_url`.*HTML page"):
        await records(raw_stream(make_system))


async def test_a_huge_page_is_read_whole(api: ApiState, make_system: MakeSystem) -> None:
    rows = [{"id": number, "note": "x" * 200, "amount": number / 8} for number in range(50_000)]
    rows[-1]["note"] = "y" * 5_000_000
    api.raw["page"] = json.dumps(rows).encode()

    read = await records(raw_stream(make_system))

    assert len(read) == 50_000 and read[-1]["note"] == "y" * 5_000_000 and read[7]["amount"] == 7 / 8


async def test_an_object_without_the_list_names_its_keys_fit_for_a_message(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = b'{"a\\u0000b": 1, "c\\ud800": 2, "' + b"k" * 500 + b'": 3}'

    with pytest.raises(PermanentError) as failed:
        await records(raw_stream(make_system))

    message = str(failed.value)
    assert "'a\\x00b', 'c\\ud800', 'kkkk" in message and "k" * 41 not in message
    message.encode("utf-8")  # no lone surrogate: the message can be logged and stored


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (b'"/raw/two\\ud800"', r"its URL has text that is not valid Unicode \(surrogates not allowed\)"),
        (b'"/raw/two\\u0000"', r"Invalid non-printable ASCII character in URL, '\\x00'"),
    ],
)
async def test_a_next_page_link_that_cannot_be_requested_fails_the_read_saying_why(
    api: ApiState, make_system: MakeSystem, link: bytes, reason: str
) -> None:
    api.raw["page"] = b'{"items": [{"id": 1}], "next": ' + link + b"}"
    pagination = {"type": "next_url", "path": "next"}
    connector = raw_stream(make_system, records="items", pagination=pagination)

    with pytest.raises(PermanentError, match=rf"crm\.contacts: reading page 2: the request cannot be made: {reason}"):
        await records(connector)


async def test_a_cursor_token_that_cannot_be_sent_fails_the_read_saying_why(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = b'{"items": [{"id": 1}], "next": "c\\udcff"}'
    connector = raw_stream(make_system, records="items", pagination={"type": "cursor", "path": "next"})

    with pytest.raises(PermanentError, match=r"reading page 2: the request cannot be made: .*not valid Unicode"):
        await records(connector)


async def test_cursor_values_that_cannot_be_sent_back_do_not_move_the_cursor(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = (
        b'[{"id": 1, "at": "2024-05-01"}, {"id": 2, "at": "2099-01-01\\ud800"}, {"id": 3, "at": "2099-01-01\\u0000"}]'
    )
    connector = raw_stream(make_system, incremental={"cursor": "at", "param": "since"})

    batches = await read_all(connector, "contacts")

    assert [len(batch.records) for batch in batches] == [3]
    assert batches[-1].checkpoint == {"cursor": "2024-05-01"}


@pytest.mark.parametrize(
    "hostile",
    ['"2099-01-01' + "9" * 100_000 + '"', '{"at": "2099-01-01", "by": [1, 2]}', '["2099-01-01"]'],
    ids=["100,000 characters", "an object", "a list"],
)
async def test_a_cursor_value_no_request_can_carry_back_does_not_move_the_cursor(
    api: ApiState, make_system: MakeSystem, hostile: str
) -> None:
    """One record's cursor of 100,000 characters became the stored cursor: every later run failed, sending it
    back ("URL component 'query' too long"), until the sync was reset; a structure is no point to read from."""
    api.raw["page"] = f'[{{"id": 1, "at": "2024-05-01"}}, {{"id": 2, "at": {hostile}}}]'.encode()
    connector = raw_stream(make_system, incremental={"cursor": "at", "param": "since"})

    batches = await read_all(connector, "contacts")

    assert [len(batch.records) for batch in batches] == [2]
    assert batches[-1].checkpoint == {"cursor": "2024-05-01"}


async def test_a_stored_cursor_that_names_no_moment_gives_way_to_the_timestamps_read(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"] = b'[{"id": 1, "at": "2024-05-01T10:00:00Z"}, {"id": 2, "at": ""}, {"id": 3, "at": "n/a"}]'
    connector = raw_stream(make_system, incremental={"cursor": "at", "param": "since"})

    batches = await read_all(connector, "contacts", checkpoint={"cursor": "n/a"})

    assert batches[-1].checkpoint == {"cursor": "2024-05-01T10:00:00Z"}


async def test_an_answer_compressed_twice_is_refused_before_it_inflates_in_memory(
    api: ApiState, make_system: MakeSystem
) -> None:
    """httpx undoes each Content-Encoding layer of a network read whole before max_answer is looked at:
    gzip inside gzip turned 1.8 KB into a gigabyte in one step, and 8 KB into the end of the process."""
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    inner = b"".join(zeros.compress(bytes(1 << 20)) for _ in range(64)) + zeros.flush()  # 64 MB of zeros
    api.raw["page"], api.raw_headers = gzip.compress(inner), {"Content-Encoding": "gzip, gzip"}
    connector = make_system({"contacts": {"key": "id", "path": "/raw/page"}}, max_answer="1MiB")

    tracemalloc.start()
    try:
        with pytest.raises(PermanentError, match=r"the answer is larger than max_answer \(1,048,576 bytes once"):
            await records(connector)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, f"{peak:,} bytes at the peak"


async def test_an_answer_not_in_the_coding_it_names_fails_the_read_saying_so(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.raw["page"], api.raw_headers = b"[{}] is no gzip", {"Content-Encoding": "gzip"}

    with pytest.raises(PermanentError, match=r"/raw/page: DecodingError: the answer is not valid gzip: Error -3 "):
        await records(raw_stream(make_system))
