"""Database URLs: every one gets an async driver; SQLite paths start at the project's folder; no password shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.errors import PermanentError
from connectors.sql.databases import Backend, database

ROOT = Path("/srv/project")


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgresql://erp@db.example.com/erp", "postgresql+asyncpg://erp@db.example.com/erp"),
        ("postgresql+psycopg2://erp@db/erp", "postgresql+asyncpg://erp@db/erp"),
        ("postgresql+asyncpg://erp@db/erp", "postgresql+asyncpg://erp@db/erp"),
        ("postgresql://erp@db/erp?sslmode=require", "postgresql+asyncpg://erp@db/erp?ssl=require"),
        ("mysql://root@db/erp", "mysql+asyncmy://root@db/erp?charset=utf8mb4"),
        ("mysql+pymysql://root@db/erp", "mysql+asyncmy://root@db/erp?charset=utf8mb4"),
        ("mariadb://root@db/erp", "mysql+asyncmy://root@db/erp?charset=utf8mb4"),
        ("mariadb+pymysql://root@db/erp?charset=latin1", "mysql+asyncmy://root@db/erp?charset=latin1"),
        ("mysql+aiomysql://root@db/erp", "mysql+aiomysql://root@db/erp?charset=utf8mb4"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
    ],
)
def test_every_url_gets_an_async_driver(written: str, used: str) -> None:
    assert database(written, ROOT).url == make_url(used)


@pytest.mark.parametrize(
    ("written", "file"),
    [
        ("sqlite:///crm.db", ROOT / "crm.db"),
        ("sqlite:///data/crm.db", ROOT / "data" / "crm.db"),
        ("sqlite:////var/lib/crm.db", Path("/var/lib/crm.db")),
        ("sqlite+aiosqlite:///crm.db", ROOT / "crm.db"),
    ],
)
def test_a_sqlite_path_starts_at_the_project_folder_and_is_opened_without_creating_it(written: str, file: Path) -> None:
    found = database(written, ROOT)

    assert found.backend is Backend.SQLITE
    assert found.file == file
    assert found.url.query["mode"] == "rw"
    assert found.shown() == f"sqlite:///{file}"


def test_the_password_is_never_shown() -> None:
    found = database("postgresql://erp:s3cret@db/erp", ROOT)

    assert found.shown() == "postgresql+asyncpg://erp:***@db/erp"
    assert found.url.password == "s3cret"


def test_an_unsupported_database_is_refused_without_echoing_the_url() -> None:
    with pytest.raises(PermanentError, match="database 'oracle' is not supported") as caught:
        database("oracle://scott:tiger@db/erp", ROOT)

    assert "tiger" not in str(caught.value)
