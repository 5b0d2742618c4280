"""The PostgreSQL server the benchmarks use, and fresh databases on it."""

from __future__ import annotations

import asyncpg

SERVER = "postgresql://postgres@127.0.0.1:5432"


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
