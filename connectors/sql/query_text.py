"""A stream's ``query:`` checked as exactly one ``SELECT``, by reading it as its database's own lexer would.

MariaDB's driver sends a query text as it is, several statements and all:
``SELECT 1; DROP TABLE t`` would run the ``DROP``. So a query is split into
statements the way the database splits it: a ``;`` inside a string literal,
a quoted name or a comment separates nothing; one ``;`` at the end is fine.
Where a server setting changes how quotes are read (MariaDB's
``NO_BACKSLASH_ESCAPES`` and ``ANSI_QUOTES``, PostgreSQL's
``standard_conforming_strings``), the query must be one statement under every
setting, since Brygga cannot know the server's. The same check runs when the
config is validated and again before the query is sent, which then reads
through a read-only transaction besides (:mod:`connectors.sql.read_only`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.sql.backends import Backend

MAX_QUERY_CHARACTERS = 1_000_000
"""The longest query taken: a list of values longer than that belongs in a table that the query joins."""

_FIRST_WORDS = ("select", "with")
_WORD = r"[^\W\d]\w*"
_SURROGATE = re.compile("[\ud800-\udfff]")


class QueryError(ValueError):
    """The query is not one SELECT the connector can send; the message says why, where and what to do."""


_POSTGRES_TOKENS = [r"(?P<escaped>[eE]')", rf"(?P<dollar>\$(?:{_WORD})?\$)", r"(?P<parameter>\$\d+)"]


@dataclass(frozen=True)
class _Lexer:
    """How one database (with one server setting) reads quotes and comments."""

    quotes: dict[str, bool]
    """Each quote character, and whether a backslash escapes the next character inside it."""
    mysql: bool = False
    """``--`` starts a comment only before a space; ``#`` starts one; ``/*! … */`` runs as SQL."""
    postgres: bool = False
    """Nested ``/* */`` comments, ``$tag$ … $tag$`` strings, ``E'…'`` strings with backslash escapes."""
    brackets: bool = False
    """SQLite's ``[name]``."""
    tokens: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        line = r"--(?=[\s\x00-\x1f]|\Z)[^\n]*|#[^\n]*" if self.mysql else r"--[^\n]*"
        parts = [
            r"(?P<space>\s+)",
            f"(?P<comment>{line})",
            r"(?P<block>/\*)",
            *(_POSTGRES_TOKENS if self.postgres else []),
            rf"(?P<word>{_WORD}(?:[\w$])*)",
            r"(?P<number>\d[\w.]*)",
            f"(?P<quote>[{re.escape(''.join(self.quotes))}])",
            *([r"(?P<bracket>\[)"] if self.brackets else []),
            r"(?P<semicolon>;)",
            r"(?P<other>.)",
        ]
        object.__setattr__(self, "tokens", re.compile("|".join(parts), re.DOTALL))


_PG = {"'": False, '"': False}
_LEXERS: dict[Backend, tuple[_Lexer, ...]] = {
    Backend.SQLITE: (_Lexer({"'": False, '"': False, "`": False}, brackets=True),),
    Backend.POSTGRESQL: (
        _Lexer(_PG, postgres=True),
        _Lexer({**_PG, "'": True}, postgres=True),  # standard_conforming_strings = off
    ),
    Backend.MYSQL: (
        _Lexer({"'": True, '"': True, "`": False}, mysql=True),
        _Lexer({"'": False, '"': False, "`": False}, mysql=True),  # NO_BACKSLASH_ESCAPES
        _Lexer({"'": True, '"': False, "`": False}, mysql=True),  # ANSI_QUOTES: "…" is a name
    ),
}


def one_select(query: str, backend: Backend) -> str:
    """The query's one statement, to send as it is: without surrounding comments and without its final ``;``.

    :raises QueryError: for an empty, huge or several-statement query, one that is no SELECT, or one
        with a NUL character, a lone surrogate or a quote or comment that is never closed
    """
    if len(query) > MAX_QUERY_CHARACTERS:
        raise QueryError(
            f"the query is {len(query):,} characters long, and the most is {MAX_QUERY_CHARACTERS:,}: "
            "keep long lists of values in a table and join it"
        )
    if "\x00" in query:
        raise QueryError(f"the query has a NUL character at {_place(query, query.index(chr(0)))}: remove it")
    surrogate = _SURROGATE.search(query)
    if surrogate is not None:
        raise QueryError(
            f"the query has a character that is not valid Unicode (a lone surrogate) at "
            f"{_place(query, surrogate.start())}: remove it"
        )
    spans = [_statement(query, lexer) for lexer in _LEXERS[backend]]
    start, end = spans[0]
    return query[start:end]


def _statement(query: str, lexer: _Lexer) -> tuple[int, int]:
    """Where the query's one statement starts and ends, read by ``lexer``."""
    start: int | None = None
    end = 0
    semicolon: int | None = None
    first_word_seen = False
    position = 0
    while position < len(query):
        token = lexer.tokens.match(query, position)
        assert token is not None  # ``other`` matches any character
        kind = token.lastgroup
        if kind in ("space", "comment"):
            position = token.end()
            continue
        if kind == "block":
            position = _block_end(query, position, lexer)
            continue
        if semicolon is not None or (kind == "semicolon" and start is None):
            at = semicolon if semicolon is not None else position
            raise QueryError(
                f"a query must be one SELECT, but the ';' at {_place(query, at)} ends a statement and more follows: "
                "remove the ';' and what comes after it (a ';' inside quotes or a comment is fine)"
            )
        if kind == "semicolon":
            semicolon, position = position, token.end()
            continue
        start = position if start is None else start
        if not first_word_seen and token.group() != "(":
            if kind != "word" or token.group().lower() not in _FIRST_WORDS:
                shown = query[position : position + 40].split(maxsplit=1)[0][:20]
                raise QueryError(
                    f"a query must be a read-only SELECT (or WITH … SELECT), and this one starts with {shown!r}"
                )
            first_word_seen = True
        position = end = _token_end(query, token, lexer)
    if start is None:
        raise QueryError("the query has no statement (it is empty, or only comments): write one SELECT")
    return start, end


def _token_end(query: str, token: re.Match[str], lexer: _Lexer) -> int:
    """Where the token that ``token`` starts ends: past its closing quote for a string or quoted name."""
    kind, after = token.lastgroup, token.end()
    if kind == "quote":
        return _quoted_end(query, token.start(), token.group(), lexer.quotes[token.group()])
    if kind == "escaped":
        return _quoted_end(query, after - 1, "'", True)
    if kind == "dollar":
        closing = query.find(token.group(), after)
        if closing < 0:
            raise _unclosed(query, token.start(), f"dollar-quoted string {token.group()}")
        return closing + len(token.group())
    if kind == "bracket":
        closing = query.find("]", after)
        if closing < 0:
            raise _unclosed(query, token.start(), "bracketed name [")
        return closing + 1
    return after


def _quoted_end(query: str, opening: int, quote: str, backslash: bool) -> int:
    """The end of the string or quoted name opened at ``opening``: a doubled quote, or an escaped one, goes on."""
    stops = re.compile(f"[{re.escape(quote)}\\\\]" if backslash else re.escape(quote))
    position = opening + 1
    while True:
        found = stops.search(query, position)
        if found is None:
            raise _unclosed(query, opening, f"quote {quote}")
        if found.group() == "\\" or query.startswith(quote, found.end()):  # an escaped or a doubled quote
            position = found.end() + 1
        else:
            return found.end()


_COMMENT_MARKS = re.compile(r"/\*|\*/")


def _block_end(query: str, opening: int, lexer: _Lexer) -> int:
    """The end of the ``/* … */`` comment opened at ``opening`` (nested ones too, on PostgreSQL)."""
    if lexer.mysql and re.compile(r"/\*M?!").match(query, opening):
        raise QueryError(
            f"MariaDB and MySQL run the text of a /*! … */ comment as SQL; the query has one at "
            f"{_place(query, opening)}: write that SQL plainly, or remove the '!'"
        )
    if not lexer.postgres:
        closing = query.find("*/", opening + 2)
        if closing < 0:
            raise _unclosed(query, opening, "comment /*")
        return closing + 2
    depth = 0
    for mark in _COMMENT_MARKS.finditer(query, opening):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    raise _unclosed(query, opening, "comment /*")


def _unclosed(query: str, opening: int, what: str) -> QueryError:
    return QueryError(f"the {what} opened at {_place(query, opening)} is never closed: close it")


def _place(query: str, index: int) -> str:
    """``line L, column C of the query`` for the character at ``index``."""
    line = query.count("\n", 0, index) + 1
    column = index - (query.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column} of the query"
