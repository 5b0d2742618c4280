"""The hand-written loader of ``bench.rest_process``: what an engineer would write instead of Brygga.

Run: ``python -m bench.rest_handwritten API_URL TARGET_URL``. It is a whole script of its own, importing
only httpx, asyncpg and orjson, so that its process starts as a user's script would (``bench.rest``'s
loader shares a process with Brygga and dlt and cannot be imported without them).

The cursor is the greatest ``updated_at`` already in the target table; without one, everything is read.
The first page says how many records there are; the others are fetched ``CONCURRENCY`` pages ahead
(no further, so that memory stays bounded) while the ones before are mapped and written: COPY into a temporary table and
``INSERT … ON CONFLICT`` every ``BATCH`` records.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections import deque
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import asyncpg
import httpx
import orjson

PAGE = 1000
BATCH = 5000
CONCURRENCY = 4
COUNTRIES = {"Sverige": "SE", "Norge": "NO", "Danmark": "DK", "Suomi": "FI"}
NAMES = ["id", "name", "email", "phone", "active", "country", "tags", "balance", "updated_at", "city"]


def mapped(item: dict[str, Any]) -> tuple[object, ...]:
    """The issue's 10-field mapping, by hand."""
    return (
        item["id"],
        item["first_name"] + " " + item["last_name"],
        item["email"],
        item["phone"],
        item["status"] == "active",
        COUNTRIES.get(item["country"], item["country"]),
        ",".join(item["tags"]),
        Decimal(item["balance"]),
        datetime.fromisoformat(item["updated_at"]),
        item["address"]["city"],
    )


async def upsert(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    updates = ", ".join(f"{name} = excluded.{name}" for name in NAMES[1:])
    async with connection.transaction():
        await connection.execute("CREATE TEMP TABLE incoming (LIKE customers) ON COMMIT DROP")
        await connection.copy_records_to_table("incoming", records=rows, columns=NAMES)
        await connection.execute(
            f"INSERT INTO customers SELECT * FROM incoming ON CONFLICT (id) DO UPDATE SET {updates}"
        )


async def load(api: str, target: str) -> None:
    connection = await asyncpg.connect(target)
    try:
        since = await connection.fetchval("SELECT max(updated_at) FROM customers")
        params: dict[str, Any] = {"per_page": PAGE}
        if since is not None:
            params["updated_since"] = since.isoformat()
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=api, limits=limits, timeout=30) as client:

            async def fetch(page: int) -> tuple[int, list[dict[str, Any]]]:
                response = await client.get("/customers", params={**params, "page": page})
                response.raise_for_status()
                return int(response.headers["X-Total-Count"]), orjson.loads(response.content)["data"]

            total, first = await fetch(1)
            pages = iter(range(2, math.ceil(total / PAGE) + 1))
            ahead = deque(asyncio.ensure_future(fetch(page)) for page in islice(pages, CONCURRENCY))
            rows = [mapped(item) for item in first]
            while ahead:
                items = (await ahead.popleft())[1]
                following = next(pages, None)
                if following is not None:
                    ahead.append(asyncio.ensure_future(fetch(following)))
                rows.extend(mapped(item) for item in items)
                if len(rows) >= BATCH:
                    await upsert(connection, rows)
                    rows = []
            if rows:
                await upsert(connection, rows)
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(load(sys.argv[1], sys.argv[2]))
