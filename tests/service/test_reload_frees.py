"""A reload retires the engine it replaced, and the process frees that engine's connectors at once: their
database engines are full of reference cycles, which the rare full collections Brygga tunes for would
leave for long, and every run after slower (see ``app.engine.garbage_collection``)."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from tests.service.conftest import Project

StartService = Callable[[ServiceSettings], Awaitable[Service]]


@pytest.mark.usefixtures("collector_off")
async def test_a_reload_frees_the_database_engines_of_the_connectors_it_retired(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync()
    project.add_contacts(2)
    service = await start_service(project.settings())
    run_id = await service.trigger("customers")
    await service.wait_for("customers")
    assert (await service.run(run_id)).status == "succeeded"
    connector: Any = await service.engine.connections.get("crm")
    database = weakref.ref((await connector._connected()).sync_engine)
    del connector

    await service.reload()

    assert database() is None
