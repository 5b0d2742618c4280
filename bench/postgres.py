"""The PostgreSQL server the benchmarks use, and fresh databases on it."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from app.store import Store

SERVER = "postgresql://postgres@127.0.0.1:5432"


def suffixed(name: str, suffix: str) -> str:
    """``name_suffix`` (``name`` where ``suffix`` is empty): a benchmark's database, apart from another run's.

    Each run starts by dropping its databases ``WITH (FORCE)``: two runs on one server under the same names
    empty each other's tables. ``--suffix`` gives a run names of its own.
    """
    if not suffix:
        return name
    if not re.fullmatch(r"\w+", suffix, re.ASCII):
        raise SystemExit(f"--suffix {suffix!r}: use letters, digits and underscores (it ends database names)")
    return f"{name}_{suffix}"


async def execute(url: str, *statements: str) -> None:
    """Run ``statements`` in the database at ``url``, one after another."""
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def fresh_database(name: str, *statements: str) -> str:
    """An empty database ``name`` (dropped first if it is there), after ``statements`` ran in it; its URL."""
    await execute(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    if statements:
        await execute(url, *statements)
    return url


async def fresh_state_database(name: str) -> str:
    """An empty state database ``name`` with Brygga's schema in it, as after a project's first start.

    Creating the schema (about 0.15 s, once per project) is set-up, like creating the target
    table, which no loader's timing includes either.
    """
    url = await fresh_database(name)
    store = await Store.open(url, Path.cwd())
    await store.close()
    return url
