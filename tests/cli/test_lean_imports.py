"""SQLAlchemy's asyncio extension without its ORM at start-up (app/cli/lean_imports.py): what Brygga uses of
it works, the ORM is not imported for it, and the rest of the extension is still there when asked for."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, sys
from app.cli.lean_imports import leave_unimported
leave_unimported()
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

async def main():
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.connect() as connection:
        value = (await connection.execute(text("SELECT 41 + 1"))).scalar()
    await engine.dispose()
    return value

value = asyncio.run(main())
orm_before = "sqlalchemy.orm" in sys.modules
from sqlalchemy.ext.asyncio import AsyncSession
import sqlalchemy.ext.asyncio as extension
print(value, orm_before, "sqlalchemy.orm" in sys.modules, extension.AsyncEngine is AsyncEngine, AsyncSession.__name__)
"""


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_engine_works_without_the_orm_and_the_rest_is_there_when_asked_for() -> None:
    assert _run(SCRIPT) == "42 False True True AsyncSession"


def test_an_extension_imported_before_is_left_as_it_is() -> None:
    script = (
        "import sqlalchemy.ext.asyncio as before\n"
        "from app.cli.lean_imports import leave_unimported\n"
        "leave_unimported()\n"
        "import sys\n"
        "print(sys.modules['sqlalchemy.ext.asyncio'] is before)\n"
    )
    assert _run(script) == "True"


SNIFFIO = """
import importlib.util, sys
installed = importlib.util.find_spec("sniffio") is not None
from app.cli.lean_imports import leave_unimported
leave_unimported()
import httpcore._synchronization as synchronization
print(installed or sys.modules.get("sniffio", "searched") is None, synchronization.current_async_library())
"""


def test_httpcore_asking_for_a_missing_sniffio_does_not_search_the_path_each_time() -> None:
    # httpcore tries `import sniffio` for every lock it makes, several per request: where sniffio is not
    # installed, each failed import searched every folder on the path again (~80 µs, 640 times a REST load).
    assert _run(SNIFFIO) == "True asyncio"


def test_an_installed_sniffio_is_left_to_be_imported() -> None:
    script = (
        "import importlib.util, sys\n"
        "importlib.util.find_spec = lambda name, *args: object() if name == 'sniffio' else None\n"
        "from app.cli.lean_imports import leave_unimported\n"
        "leave_unimported()\n"
        "print('sniffio' in sys.modules)\n"
    )
    assert _run(script) == "False"
