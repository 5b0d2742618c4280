"""Reading a stream: encodings, delimiters, quoting, empty cells, batches, and files that are not quite right."""

from __future__ import annotations

import contextlib
import logging
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from app.errors import PermanentError, TransientError
from connectors.base import Batch, Write, WriteAction, connector_class
from connectors.csv.connector import CsvConnector
from connectors.csv.files import MAX_CELL, MAX_COLUMNS, MAX_LINE, CsvFileError
from connectors.csv.reading import MOST_CELLS
from tests.connectors.csv.conftest import SystemMaker, read_all, records_of

SWEDISH = [
    {"kundnr": "1", "namn": "Åsa Öberg", "ort": "Malmö"},
    {"kundnr": "2", "namn": "Örjan Ärlig", "ort": "Gävle"},
    {"kundnr": "3", "namn": "åäö ÅÄÖ", "ort": "Umeå"},
]


def test_the_csv_kind_is_registered_as_this_class() -> None:
    assert connector_class("csv") is CsvConnector


async def test_semicolons_in_cp1252_read_every_swedish_letter_intact(system: SystemMaker, folder: Path) -> None:
    text = "kundnr;namn;ort\r\n1;Åsa Öberg;Malmö\r\n2;Örjan Ärlig;Gävle\r\n3;åäö ÅÄÖ;Umeå\r\n"
    (folder / "kunder.csv").write_bytes(text.encode("cp1252"))
    connector = system(kunder='{file: kunder.csv, key: kundnr, delimiter: ";", encoding: cp1252}')

    assert await records_of(connector, "kunder") == SWEDISH


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""], ids=["with-bom", "without-bom"])
async def test_utf8_reads_with_and_without_a_bom_and_the_bom_is_not_in_the_first_name(
    system: SystemMaker, folder: Path, bom: bytes
) -> None:
    text = "kundnr,namn,ort\n1,Åsa Öberg,Malmö\n2,Örjan Ärlig,Gävle\n3,åäö ÅÄÖ,Umeå\n"
    (folder / "kunder.csv").write_bytes(bom + text.encode("utf-8"))
    connector = system(kunder="{file: kunder.csv, key: kundnr}")

    info = await connector.prepare("kunder")

    assert info.fields == ["kundnr", "namn", "ort"]
    assert await records_of(connector, "kunder") == SWEDISH


async def test_tabs_and_another_quote_character_are_honoured(system: SystemMaker, folder: Path) -> None:
    (folder / "t.tsv").write_text("id\tnote\n1\t'a\tb'\n2\t'it''s'\n", encoding="utf-8")
    connector = system(t='{file: t.tsv, key: id, delimiter: "\\t", quotechar: "\'"}')

    assert await records_of(connector, "t") == [{"id": "1", "note": "a\tb"}, {"id": "2", "note": "it's"}]


async def test_quoted_cells_keep_delimiters_quotes_and_line_breaks(system: SystemMaker, folder: Path) -> None:
    text = 'id;note;city\r\n1;"one; two";Lund\r\n2;"first line\r\nsecond ""quoted"" line";Ystad\r\n3;plain;Visby\r\n'
    (folder / "n.csv").write_text(text, encoding="utf-8", newline="")
    connector = system(n='{file: n.csv, key: id, delimiter: ";"}')

    assert await records_of(connector, "n") == [
        {"id": "1", "note": "one; two", "city": "Lund"},
        {"id": "2", "note": 'first line\r\nsecond "quoted" line', "city": "Ystad"},
        {"id": "3", "note": "plain", "city": "Visby"},
    ]


async def test_empty_cells_are_none_and_blank_rows_are_skipped(system: SystemMaker, folder: Path) -> None:
    (folder / "e.csv").write_text('id,name,city\n1,,Lund\n\n,,\n2,"",\n', encoding="utf-8")
    connector = system(e="{file: e.csv, key: id}")

    assert await records_of(connector, "e") == [
        {"id": "1", "name": None, "city": "Lund"},
        {"id": "2", "name": None, "city": None},
    ]


async def test_a_read_comes_in_batches_of_at_most_batch_size_in_file_order_each_with_an_empty_checkpoint(
    system: SystemMaker, folder: Path
) -> None:
    (folder / "n.csv").write_text("id\n" + "".join(f"{n}\n" for n in range(7)), encoding="utf-8")
    connector = system(n="{file: n.csv, key: id}")

    batches = await read_all(connector, "n", batch_size=3)

    assert [[record["id"] for record in batch.records] for batch in batches] == [
        ["0", "1", "2"],
        ["3", "4", "5"],
        ["6"],
    ]
    assert [batch.checkpoint for batch in batches] == [{}, {}, {}]


async def test_every_read_is_a_full_read_whatever_the_checkpoint(system: SystemMaker, folder: Path) -> None:
    (folder / "n.csv").write_text("id\n1\n2\n", encoding="utf-8")
    connector = system(n="{file: n.csv, key: id}")

    batches = [batch async for batch in connector.read("n", {"anything": 5}, 10)]

    assert [record["id"] for batch in batches for record in batch.records] == ["1", "2"]


async def test_a_file_with_only_a_header_reads_no_batches(system: SystemMaker, folder: Path) -> None:
    (folder / "h.csv").write_text("id,name\n", encoding="utf-8")
    connector = system(h="{file: h.csv, key: id}")

    assert await read_all(connector, "h") == []


async def test_a_row_with_too_few_or_too_many_cells_is_read_as_far_as_it_goes_with_one_warning(
    system: SystemMaker, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "r.csv").write_text("id,name,city\n1,Ann\n2,Bo,Lund,extra\n3,Cy,Visby,\n", encoding="utf-8")
    connector = system(r="{file: r.csv, key: id}")

    with caplog.at_level(logging.WARNING):
        records = await records_of(connector, "r")

    assert records == [
        {"id": "1", "name": "Ann", "city": None},
        {"id": "2", "name": "Bo", "city": "Lund"},
        {"id": "3", "name": "Cy", "city": "Visby"},
    ]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "files/r.csv: 2 row(s) had a different number of cells than the header (the first at line 2); "
        "missing cells were read as empty, extra cells were ignored"
    ]


async def first_batch_and_peak(connector: CsvConnector, stream: str, size: int) -> tuple[Batch, int]:
    """The stream's first batch, and the most memory Python held while reading it."""
    reads = connector.read(stream, None, size)
    tracemalloc.start()
    try:
        first = await anext(reads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await aclose(reads)
    return first, peak


async def test_a_read_streams_the_file_instead_of_loading_it(system: SystemMaker, folder: Path) -> None:
    rows = "".join(f"{n},{'x' * 40}\n" for n in range(200_000))
    (folder / "big.csv").write_text("id,filler\n" + rows, encoding="utf-8")  # about 9 MB
    connector = system(big="{file: big.csv, key: id}")
    first, peak = await first_batch_and_peak(connector, "big", 100)

    assert len(first.records) == 100
    assert peak < 1_000_000


async def test_cells_past_the_header_are_dropped_as_each_row_is_read_not_held_for_the_batch(
    system: SystemMaker, folder: Path
) -> None:
    """A header of two names and rows of 100,000 cells each: a batch held every row's cells (~6 MB a row)
    until it was made into records, which keep two."""
    row = ",".join(["ab"] * 100_000)
    (folder / "r.csv").write_text("id,name\n" + "".join(f"{n},{row}\n" for n in range(30)), encoding="utf-8")
    connector = system(r="{file: r.csv, key: id}")
    first, peak = await first_batch_and_peak(connector, "r", 1000)

    assert len(first.records) == 30
    assert first.records[29] == {"id": "29", "name": "ab"}
    assert peak < 30_000_000, f"{peak:,} bytes at the peak"


async def test_a_wide_file_is_read_in_batches_of_at_most_a_million_cells(system: SystemMaker, folder: Path) -> None:
    width = 20_000
    header = ",".join(["id", *(f"c{n}" for n in range(1, width))])
    (folder / "w.csv").write_text(header + "\n" + "".join(f"{n}{',' * (width - 1)}x\n" for n in range(120)))
    connector = system(w="{file: w.csv, key: id}")

    batches = await read_all(connector, "w", 1000)
    keys = [key async for batch in connector.scan_keys("w", 1000) for key in batch]

    assert [len(batch.records) for batch in batches] == [MOST_CELLS // width] * 2 + [120 - 2 * (MOST_CELLS // width)]
    assert batches[0].records[0][f"c{width - 1}"] == "x"
    assert len(keys) == 120


async def test_a_header_of_more_columns_than_brygga_reads_is_refused_at_line_1(
    system: SystemMaker, folder: Path
) -> None:
    """A header of a million names (a wrong delimiter, a damaged export) made records of a million fields each."""
    (folder / "w.csv").write_text(",".join(["id", *(f"c{n}" for n in range(MAX_COLUMNS))]) + "\n1\n", encoding="utf-8")
    connector = system(w="{file: w.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await connector.prepare("w")

    assert caught.value.line == 1
    assert f"the header names {MAX_COLUMNS + 1:,} columns, more than the {MAX_COLUMNS:,} Brygga reads" in str(
        caught.value
    )


async def test_a_row_of_quoted_cells_over_many_lines_is_bounded_as_a_line_is(system: SystemMaker, folder: Path) -> None:
    """Each cell on a line of its own, none long: the row itself held millions of cells."""
    cells = '"a\n",' * (MAX_LINE // 5 + 1)
    (folder / "q.csv").write_text("id,note\n1,ok\n2," + cells + '"end"\n', encoding="utf-8")
    connector = system(q="{file: q.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "q")

    assert caught.value.line == 3
    assert "a quoted cell begins on this line and is never closed (or holds more than 16,777,216 characters, or " in (
        str(caught.value)
    )
    assert "the row does, over lines 3 to " in str(caught.value)


async def test_a_read_under_way_keeps_reading_the_file_it_opened_when_a_write_replaces_it(
    system: SystemMaker, folder: Path
) -> None:
    (folder / "n.csv").write_text("id\n" + "".join(f"{n}\n" for n in range(10_000)), encoding="utf-8")
    connector = system(n="{file: n.csv, key: id}")
    reads = connector.read("n", None, 100)

    first = await anext(reads)
    await connector.write("n", [Write(WriteAction.DELETE, None, str(n)) for n in range(5000)])
    rest = [batch async for batch in reads]

    assert first.records[0] == {"id": "0"}
    assert sum(len(batch.records) for batch in rest) == 9_900
    assert len(await records_of(connector, "n")) == 5000


@pytest.mark.parametrize("how", ["appended", "cut and written anew"])
async def test_a_file_another_program_writes_while_it_is_read_fails_the_read_for_now(
    system: SystemMaker, folder: Path, how: str
) -> None:
    """An export written in place while Brygga reads it gives a file cut short (or rows of two versions):
    taken for the whole file, a mirror sync deleted the target records of every row not written yet."""
    path = folder / "n.csv"
    path.write_text("id\n" + "".join(f"{n}\n" for n in range(10_000)), encoding="utf-8")
    connector = system(n="{file: n.csv, key: id}")
    reads = connector.read("n", None, 100)
    await anext(reads)

    with path.open("r+" if how == "appended" else "w", encoding="utf-8") as exporter:  # the same file, in place
        exporter.seek(0, 2)
        exporter.write("".join(f"{n}\n" for n in range(10_000, 10_100)))

    with pytest.raises(TransientError) as failed:
        async for _ in reads:
            pass
    assert str(failed.value).startswith("files/n.csv: the file changed while it was read (")
    assert str(failed.value).endswith(
        "another program is writing it, so what was read may be cut short; it is read again at the next try. Have "
        "that program write a temporary file and rename it over this one when done (an export that appears whole)"
    )
    assert len(await records_of(connector, "n")) == 10_100 if how == "appended" else 100  # the finished file reads


async def test_a_utf8_stream_over_a_cp1252_file_names_the_line_and_suggests_cp1252(
    system: SystemMaker, folder: Path
) -> None:
    # enough rows that the bad byte lies far beyond the first chunk the reader decodes
    good = "".join(f"{n},Anna\n" for n in range(5000))
    (folder / "k.csv").write_bytes(("id,name\n" + good).encode() + "5000,Åsa\n".encode("cp1252"))
    connector = system(k="{file: k.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "k")

    error = caught.value
    assert isinstance(error, PermanentError)
    assert (error.file, error.line) == ("files/k.csv", 5002)
    assert str(error) == (
        "files/k.csv:5002: not valid utf-8 (bytes 0xc5): "
        "is it cp1252 (Windows, Excel)? set `encoding: cp1252` on the stream"
    )


async def test_utf16_without_its_byte_order_mark_is_a_clear_error(system: SystemMaker, folder: Path) -> None:
    (folder / "k.csv").write_bytes("id,name\n1,Åsa\n".encode("utf-16-le"))  # no BOM: the decoder cannot tell
    connector = system(k="{file: k.csv, key: id, encoding: utf-16}")

    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "k")

    assert isinstance(caught.value, PermanentError)
    assert str(caught.value).startswith("files/k.csv: not valid utf-16: set the stream's `encoding:`")


@pytest.mark.parametrize(
    ("codec", "stream_encoding", "found"),
    [
        pytest.param("utf-16", "utf-8", "UTF-16", id="utf-16-as-utf-8"),
        pytest.param("utf-16", "cp1252", "UTF-16", id="utf-16-as-cp1252"),
        pytest.param("utf-32", "utf-8", "UTF-32", id="utf-32-as-utf-8"),
        pytest.param("utf-32", "latin-1", "UTF-32", id="utf-32-as-latin-1"),
    ],
)
async def test_a_utf16_or_utf32_byte_order_mark_says_which_encoding_to_set(
    system: SystemMaker, folder: Path, codec: str, stream_encoding: str, found: str
) -> None:
    """Excel's "Unicode text" is UTF-16 with a BOM: it was called not valid UTF-8 with advice to set cp1252
    (which then read garbage), and under cp1252 or latin-1 the header became 'ÿþi\\x00d\\x00'."""
    (folder / "k.csv").write_bytes("id,name\n1,Åsa\n".encode(codec))
    connector = system(k=f"{{file: k.csv, key: id, encoding: {stream_encoding}}}")

    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "k")

    assert isinstance(caught.value, PermanentError)
    assert str(caught.value) == (
        f"files/k.csv: starts with a {found} byte-order mark but its encoding is set to {stream_encoding}: "
        f"set `encoding: {codec}` on the stream (or save the file as UTF-8)"
    )


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
async def test_a_utf16_or_utf32_file_with_its_byte_order_mark_reads_when_its_encoding_is_set(
    system: SystemMaker, folder: Path, codec: str
) -> None:
    (folder / "k.csv").write_bytes("id,name\n1,Åsa\n".encode(codec))
    connector = system(k=f"{{file: k.csv, key: id, encoding: {codec}}}")

    assert await records_of(connector, "k") == [{"id": "1", "name": "Åsa"}]


async def test_a_bom_on_a_stream_set_to_cp1252_says_to_set_utf8(system: SystemMaker, folder: Path) -> None:
    (folder / "k.csv").write_bytes(b"\xef\xbb\xbfid;name\n1;" + "Åsa".encode())
    connector = system(k='{file: k.csv, key: id, delimiter: ";", encoding: cp1252}')

    with pytest.raises(CsvFileError, match="byte-order mark but its encoding is set to cp1252: set `encoding: utf-8`"):
        await connector.prepare("k")


async def test_a_long_cell_reads_and_one_beyond_the_limit_is_a_permanent_error_at_its_line(
    system: SystemMaker, folder: Path
) -> None:
    """The csv module's own limit (131,072) failed a whole file for one long note; Brygga's is 16 Mi."""
    (folder / "w.csv").write_text("id,note\n1,short\n2," + "x" * 200_000 + "\n", encoding="utf-8")
    lines = ("x" * 1_000_000 + "\n") * (MAX_CELL // 1_000_000 + 1)  # a quoted cell of many lines
    (folder / "huge.csv").write_text('id,note\n1,short\n2,"' + lines + '"\n', encoding="utf-8")
    connector = system(w="{file: w.csv, key: id}", huge="{file: huge.csv, key: id}")

    [batch] = await read_all(connector, "w")
    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "huge")

    assert len(batch.records[1]["note"]) == 200_000
    assert caught.value.line == 3
    assert "a quoted cell begins on this line and is never closed (or holds more than 16,777,216" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('id,name\n1,Ann\n2,"Bo\n3,Cy\n4,Di\n', 3, "a quoted cell begins on this line and is never closed"),
        ('id,name\n1,"Ann"x\n2,Bo\n', 2, "a quoted cell must end at its closing quote"),
        ('id,"na"me\n1,Ann\n', 1, "a quoted cell must end at its closing quote"),
        ("id,name\n1," + "x" * (MAX_LINE + 5), 2, "the line is longer than 16,777,216 characters"),
    ],
    ids=["a-quote-never-closed", "text-after-a-closing-quote", "in-the-header", "one-endless-line"],
)
async def test_broken_quoting_is_an_error_at_the_line_it_begins_not_rows_swallowed(
    system: SystemMaker, folder: Path, text: str, line: int, problem: str
) -> None:
    """Read leniently, an unclosed quote took every row after it into one cell, and the run succeeded with
    them gone; a target rewritten from such a file kept the damage for good."""
    (folder / "q.csv").write_text(text, encoding="utf-8")
    connector = system(q="{file: q.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await read_all(connector, "q")

    assert caught.value.line == line
    assert problem in str(caught.value)


async def test_a_header_that_names_a_column_twice_is_refused(system: SystemMaker, folder: Path) -> None:
    (folder / "d.csv").write_text("id,name,name,,\n1,a,b,,\n", encoding="utf-8")
    connector = system(d="{file: d.csv, key: id}")

    with pytest.raises(CsvFileError, match=r"^files/d.csv:1: the header names 'name' more than once"):
        await connector.prepare("d")


async def test_an_abandoned_read_closes_its_file(system: SystemMaker, folder: Path) -> None:
    (folder / "n.csv").write_text("id\n1\n2\n3\n", encoding="utf-8")
    connector = system(n="{file: n.csv, key: id}")
    reads = connector.read("n", None, 1)

    await anext(reads)
    assert str(folder / "n.csv") in open_files()
    await aclose(reads)

    assert str(folder / "n.csv") not in open_files()


def open_files() -> set[str]:
    """What this process has open (Linux)."""
    found: set[str] = set()
    for descriptor in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            found.add(str(descriptor.readlink()))
    return found


async def aclose(reads: AsyncIterator[object]) -> None:
    assert isinstance(reads, AsyncGenerator)
    await reads.aclose()
