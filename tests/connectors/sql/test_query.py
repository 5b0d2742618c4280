"""A stream's ``query:`` is one SELECT, read through a read-only transaction, on every database.

The texts are checked as each database's lexer reads them (a table, no
database needed); then, on real databases, a query that slipped past the
config (changed after loading) is refused before it is sent, a query that
would write is refused by the database's read-only transaction, and the
same system's writes still work afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, String, Table, func, select, text

from app.errors import PermanentError
from connectors.base import Write, WriteAction
from connectors.sql.config import SqlStream
from connectors.sql.databases import Backend
from connectors.sql.query_text import MAX_QUERY_CHARACTERS, QueryError, one_select
from connectors.sql.read_only import read_only_connection
from tests.cli.helpers import run_brygga
from tests.connectors.sql.conftest import Connect, Db, ids, read_all

ALL = tuple(Backend)
SQLITE, POSTGRES, MYSQL = Backend.SQLITE, Backend.POSTGRESQL, Backend.MYSQL
SEVERAL = "a query must be one SELECT, but the ';' at line"

ACCEPTED: list[tuple[str, tuple[Backend, ...], str]] = [
    ("SELECT 1", ALL, "SELECT 1"),
    ("  SELECT 1 ;  \n", ALL, "SELECT 1"),
    ("select 1;", ALL, "select 1"),
    ("WITH a AS (SELECT 1 AS x) SELECT x FROM a", ALL, "WITH a AS (SELECT 1 AS x) SELECT x FROM a"),
    ("((SELECT 1))", ALL, "((SELECT 1))"),
    ("/* head */ SELECT 1 -- tail", ALL, "SELECT 1"),
    ("SELECT 1 -- tail; DROP TABLE t\n", ALL, "SELECT 1"),
    ("SELECT 1 /* ; */ + 1", ALL, "SELECT 1 /* ; */ + 1"),
    ("SELECT ';' AS a, 'it''s;' AS b", ALL, "SELECT ';' AS a, 'it''s;' AS b"),
    ('SELECT 1 AS "a;b"', ALL, 'SELECT 1 AS "a;b"'),
    ("SELECT 1 AS `a;b`", (SQLITE, MYSQL), "SELECT 1 AS `a;b`"),
    ("SELECT 1 AS [a;b]", (SQLITE,), "SELECT 1 AS [a;b]"),
    ("SELECT $$;$$ AS a, $x$ $$;' $x$ AS b", (POSTGRES,), "SELECT $$;$$ AS a, $x$ $$;' $x$ AS b"),
    ("SELECT E'\\';' AS a", (POSTGRES,), "SELECT E'\\';' AS a"),
    ("SELECT 1 /* a /* b */ ; */", (POSTGRES,), "SELECT 1"),
    ("SELECT 1 # ; DROP TABLE t", (MYSQL,), "SELECT 1"),
    ("SELECT 1 /*+ hint; */", (MYSQL,), "SELECT 1"),
    ("SELECT 'åäö ✓ 😀;'", ALL, "SELECT 'åäö ✓ 😀;'"),
    ("SELECT a$b FROM t", (POSTGRES,), "SELECT a$b FROM t"),
    ("SELECT " + "(" * 50_000 + "1" + ")" * 50_000, ALL, "SELECT " + "(" * 50_000 + "1" + ")" * 50_000),
]

REFUSED: list[tuple[str, tuple[Backend, ...], str]] = [
    ("", ALL, "the query has no statement (it is empty, or only comments): write one SELECT"),
    ("  \n\t ", ALL, "the query has no statement"),
    ("-- only a comment", ALL, "the query has no statement"),
    ("/* only a comment */ ;", ALL, "a query must be one SELECT, but the ';' at line 1, column 22 of the query"),
    (";", ALL, SEVERAL),
    ("SELECT 1; DROP TABLE victim", ALL, f"{SEVERAL} 1, column 9 of the query ends a statement and more follows"),
    ("SELECT 1;\n  DROP TABLE victim;", ALL, f"{SEVERAL} 1, column 9"),
    ("SELECT 1;;", ALL, f"{SEVERAL} 1, column 9"),
    ("SELECT 1\n; SELECT 2", ALL, f"{SEVERAL} 2, column 1"),
    ("SELECT 1; -- fine\n/* fine */ SELECT 2", ALL, SEVERAL),
    # a backslash escapes a quote on MariaDB unless NO_BACKSLASH_ESCAPES; on PostgreSQL only in E'' (or
    # with standard_conforming_strings off): the query must be one statement whichever way the server reads it
    ("SELECT 'a\\'; DROP TABLE victim; -- '", ALL, f"{SEVERAL} 1, column 12"),
    ('SELECT "a\\"; DROP TABLE victim; -- "', (MYSQL,), f"{SEVERAL} 1, column 12"),  # ANSI_QUOTES
    ("SELECT 1--1; DROP TABLE victim", (MYSQL,), f"{SEVERAL} 1, column 12"),  # '--' needs a space after it
    ("SELECT 1 # ; DROP TABLE t", (SQLITE, POSTGRES), SEVERAL),
    ("SELECT $$;$$", (SQLITE, MYSQL), SEVERAL),
    ("SELECT 1 /* a /* b */ ; */", (SQLITE, MYSQL), SEVERAL),
    ("SELECT 1 /*! ; DROP TABLE t */", (MYSQL,), "MariaDB and MySQL run the text of a /*! … */ comment as SQL"),
    ("SELECT 1 /*M!100000 ; */", (MYSQL,), "/*! … */ comment as SQL; the query has one at line 1, column 10"),
    ("DELETE FROM victim", ALL, "a query must be a read-only SELECT (or WITH … SELECT), and this one starts with 'DEL"),
    ("(DROP TABLE victim)", ALL, "this one starts with 'DROP'"),
    ("'SELECT'", ALL, "this one starts with \"'SELECT'\""),
    ("SELECT 'open", ALL, "the quote ' opened at line 1, column 8 of the query is never closed: close it"),
    ('SELECT "open', ALL, 'the quote " opened at line 1, column 8'),
    ("SELECT 1 /* open", ALL, "the comment /* opened at line 1, column 10 of the query is never closed"),
    ("SELECT $x$ open", (POSTGRES,), "the dollar-quoted string $x$ opened at line 1, column 8"),
    ("SELECT E'\\'", (POSTGRES,), "the quote ' opened at line 1, column 9"),
    ("SELECT 1 AS [open", (SQLITE,), "the bracketed name [ opened"),
    ("SELECT 1\x00; DROP TABLE victim", ALL, "the query has a NUL character at line 1, column 9 of the query"),
    ("SELECT '\ud800'", ALL, "a character that is not valid Unicode (a lone surrogate) at line 1, column 9"),
    ("SELECT " + "1" * MAX_QUERY_CHARACTERS, ALL, "the query is 1,000,007 characters long, and the most is 1,000,000"),
]


@pytest.mark.parametrize(
    ("query", "backend", "sent"),
    [
        pytest.param(query, backend, sent, id=f"{backend}-{index}")
        for index, (query, backends, sent) in enumerate(ACCEPTED)
        for backend in backends
    ],
)
def test_a_query_of_one_select_is_sent_without_its_final_semicolon_and_comments(
    query: str, backend: Backend, sent: str
) -> None:
    assert one_select(query, backend) == sent


@pytest.mark.parametrize(
    ("query", "backend", "message"),
    [
        pytest.param(query, backend, message, id=f"{backend}-{index}")
        for index, (query, backends, message) in enumerate(REFUSED)
        for backend in backends
    ],
)
def test_a_query_that_is_not_one_select_is_refused_saying_where(query: str, backend: Backend, message: str) -> None:
    with pytest.raises(QueryError) as refused:
        one_select(query, backend)

    assert message in str(refused.value)


def test_a_query_of_the_largest_size_with_nothing_closed_is_read_to_its_end() -> None:
    """Doubled quotes and nested comment openings all the way: one pass, no backtracking."""
    for body in ("'a''", "/*/*"):
        for backend in Backend:
            with pytest.raises(QueryError, match="never closed"):
                one_select("SELECT " + body * ((MAX_QUERY_CHARACTERS - 10) // 4), backend)


def test_validate_shows_a_query_of_several_statements_at_its_place(tmp_path: Path) -> None:
    (tmp_path / "crm.db").touch()
    (tmp_path / "brygga.yaml").write_text(
        "version: 1\n"
        "systems:\n"
        "  crm:\n"
        "    connector: sql\n"
        "    url: sqlite:///crm.db\n"
        "    streams:\n"
        "      contacts:\n"
        "        key: id\n"
        "        query: |\n"
        "          SELECT id FROM contacts; -- the ';' in a comment is fine\n"
        "          DROP TABLE victim\n"
        "mappings: []\n",
        encoding="utf-8",
    )

    result = run_brygga("validate", "-c", str(tmp_path / "brygga.yaml"), cwd=tmp_path)

    assert result.returncode == 2, result.stdout
    assert result.stderr.splitlines()[0] == (
        "brygga.yaml:9:16: systems.crm.streams.contacts.query: a query must be one SELECT, but the ';' at line 1,"
        " column 24 of the query ends a statement and more follows: remove the ';' and what comes after it"
        " (a ';' inside quotes or a comment is fine)"
    )


async def _victim(db: Db) -> Table:
    victim = await db.create("victim", Column("id", Integer, primary_key=True, autoincrement=False))
    await db.insert(victim, [{"id": 1}, {"id": 2}])
    return victim


async def _survives(db: Db, victim: Table) -> None:
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(victim))).scalar() == 2


async def test_a_query_changed_after_validation_is_checked_again_before_it_is_sent(db: Db, connect: Connect) -> None:
    victim = await _victim(db)
    # the parentheses close the subquery Brygga wraps the query in: the database would see three statements
    hostile = f"SELECT 1 AS id) q; DROP TABLE {victim.name}; SELECT * FROM (SELECT 1 AS id"

    async with connect({"q": {"query": "SELECT 1 AS id", "key": "id"}}) as connector:
        options = connector.system.stream("q")
        assert isinstance(options, SqlStream)
        options.query = hostile  # as if it had never been validated
        with pytest.raises(PermanentError, match=r"db\.q: query: a query must be one SELECT, but the ';'"):
            await read_all(connector, "q", None, 10)

    await _survives(db, victim)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_data_modifying_with_reads_nothing_and_deletes_nothing(db: Db, connect: Connect) -> None:
    victim = await _victim(db)
    query = f"WITH gone AS (DELETE FROM {victim.name} RETURNING id) SELECT id FROM gone"

    async with connect({"q": {"query": query, "key": "id"}}) as connector:
        with pytest.raises(PermanentError, match=r"data-modifying statement"):
            await read_all(connector, "q", None, 10)

    await _survives(db, victim)


WIPE_FUNCTIONS = {
    "postgresql": (
        "CREATE FUNCTION {name}() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM {table}; RETURN 1; END $$",
        "cannot execute DELETE in a read-only transaction",
    ),
    "mariadb": (
        "CREATE FUNCTION {name}() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM {table}; RETURN 1; END",
        "Cannot execute statement in a READ ONLY transaction",
    ),
}


@pytest.mark.parametrize("db", list(WIPE_FUNCTIONS), indirect=True)
async def test_a_query_calling_a_function_that_writes_is_refused_by_the_read_only_transaction(
    db: Db, connect: Connect
) -> None:
    victim = await _victim(db)
    function = db.name("brygga_wipe")
    create, refusal = WIPE_FUNCTIONS[db.kind]
    await db.execute(create.format(name=function, table=victim.name))
    stream = {"q": {"query": f"SELECT id, {function}() AS wiped FROM {victim.name}", "key": "id"}}
    try:
        async with connect(stream) as connector:
            with pytest.raises(PermanentError, match=refusal) as refused:
                await read_all(connector, "q", None, 10)
    finally:
        await db.execute(f"DROP FUNCTION {function}")

    assert "db.q: reading through the stream's query (it runs read-only: a query may only read): " in str(refused.value)
    await _survives(db, victim)


async def test_a_read_only_connection_refuses_writes_and_the_pool_writes_after_it(db: Db, connect: Connect) -> None:
    victim = await _victim(db)
    people = await db.create(
        "people", Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(50))
    )
    streams = {"q": {"query": f"SELECT id FROM {victim.name}", "key": "id"}, "p": {"table": people.name, "key": "id"}}

    async with connect(streams) as connector:
        engine = await connector._connected()
        backend = Backend.MYSQL if db.kind == "mariadb" else Backend(db.kind)
        with pytest.raises(Exception, match=r"(?i)read.only|readonly"):
            async with read_only_connection(engine, backend) as conn:
                await conn.execute(text(f"DELETE FROM {victim.name}"))
        await connector.prepare("p", write_fields=["id", "name"])
        for number in range(1, 4):  # reads and writes take turns on the same pool of connections
            assert ids(await read_all(connector, "q", None, 1)) == [1, 2]
            await connector.write("p", [Write(WriteAction.CREATE, {"id": number, "name": f"P{number}"}, None)])

    assert await db.rows(people) == [{"id": n, "name": f"P{n}"} for n in range(1, 4)]
    await _survives(db, victim)


async def test_a_query_ending_in_a_comment_reads_its_rows(db: Db, connect: Connect) -> None:
    victim = await _victim(db)

    async with connect({"q": {"query": f"SELECT id FROM {victim.name} -- every row", "key": "id"}}) as connector:
        assert ids(await read_all(connector, "q", None, 10)) == [1, 2]
