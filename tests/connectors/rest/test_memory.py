"""What a read holds on to: an answer is freed as soon as its page is taken, not at a later collection.

A run collects garbage rarely (``app.engine.garbage_collection``): anything left in a reference cycle
waits for a full collection, and the answers' bodies were (httpx's response and its stream refer to
each other): 73 bodies of 300 KB were waiting at once in a load of 1,000,000 records.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from tests.connectors.rest.conftest import MakeSystem, ids, read_all
from tests.connectors.rest.server import ApiState, contacts


@pytest.fixture
def no_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def answers_alive() -> int:
    return sum(isinstance(thing, httpx.Response) for thing in gc.get_objects())


@pytest.mark.usefixtures("no_collection")
async def test_the_answers_of_a_read_do_not_pile_up_for_the_garbage_collector(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(100)
    pagination = {"type": "page", "size_param": "size", "size": 10}
    options = {"key": "id", "path": "/pages/contacts", "pagination": pagination, "total": {"header": "X-Total-Count"}}
    connector = make_system({"contacts": options})

    batches = await read_all(connector, "contacts", batch_size=20)
    read = ids(batches)
    del batches  # each held its pages' answers, to read a record again (Batch.originals)

    assert read == list(range(1, 101))
    assert answers_alive() <= 1, "the answers of the read's 10 pages pile up until a collection"


async def test_what_a_read_keeps_of_each_page_to_tell_pages_apart_is_small(
    api: ApiState, make_system: MakeSystem
) -> None:
    """To tell a page seen twice, a read kept the JSON of each page's first and last record for the whole
    read: an API answering pages of one 20 MB record each grew a read of 20 pages to 1.3 GB."""
    api.contacts = [{**contact, "note": "x" * 500_000} for contact in contacts(24)]
    options = {"key": "id", "path": "/link/contacts", "params": {"per_page": 1}, "pagination": {"type": "link_header"}}
    connector = make_system({"contacts": options})
    held: list[int] = []

    tracemalloc.start()
    try:
        async for batch in connector.read("contacts", None, 1):
            del batch
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()

    assert len(held) == 24
    assert held[-1] - held[3] < 2_000_000, f"each page left {(held[-1] - held[3]) // 20:,} bytes behind"
