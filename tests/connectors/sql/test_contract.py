"""The contract suite (:mod:`connectors.testing`) over the ``sql`` kind, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Column, Integer, String

from connectors.base import Connector
from connectors.sql.connector import SqlConnector
from connectors.testing import ConnectorContract, Subject
from tests.connectors.sql.conftest import Db, Streams, moments, system_config, timestamp

SECRET = "s3cret-pw"
UNREACHABLE = {
    "sqlite": "sqlite:///missing.db",
    "postgresql": f"postgresql://brygga:{SECRET}@127.0.0.1:1/test",
    "mariadb": f"mysql://brygga:{SECRET}@127.0.0.1:1/test",
}
REFUSING = {
    "sqlite": "sqlite:///not-a-database.db",
    "postgresql": f"postgresql://brygga:{SECRET}@127.0.0.1:5432/brygga",  # no such role
    "mariadb": f"mysql://brygga:{SECRET}@127.0.0.1:3306/brygga",  # no such user
}


class TestSqlContract(ConnectorContract):
    @pytest.fixture
    async def subject(self, db: Db) -> Subject:
        table = await db.create(
            "people",
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("name", String(100), nullable=False),
            Column("city", String(100)),
            Column("updated_at", timestamp()),
        )
        first, second, third, later, latest = moments(5)
        records = [
            {"id": 1, "name": "Ada", "city": "Oslo", "updated_at": first},
            {"id": 2, "name": "Bo", "city": "Umeå", "updated_at": second},
            {"id": 3, "name": "Cy", "city": "Turku", "updated_at": second},
            {"id": 4, "name": "Di", "city": None, "updated_at": third},
        ]
        await db.insert(table, records)
        (db.root / "not-a-database.db").write_text("a spreadsheet, perhaps\n" * 100, encoding="utf-8")
        streams: Streams = {
            "people": {"table": table.name, "key": "id", "cursor": "updated_at", "delete": "hard"},
            "gone": {"table": "no_such_table_4711", "key": "id"},
        }

        def system(url: str) -> Callable[[], Connector]:
            return lambda: SqlConnector(system_config(db.root, url, streams))

        return Subject(
            make=system(db.url),
            stream="people",
            key="id",
            records=records,
            new_records=[
                {"id": 5, "name": "Ed", "city": "Bergen", "updated_at": later},
                {"id": 6, "name": "Fa", "city": "Malmö", "updated_at": latest},
            ],
            changed={"city": "Lund", "updated_at": latest},
            refused={"id": 7, "name": None, "city": "Lund", "updated_at": latest},
            unreachable=system(UNREACHABLE[db.kind]),
            refusing=system(REFUSING[db.kind]),
            missing_stream="gone",
            secret=None if db.kind == "sqlite" else SECRET,
        )
