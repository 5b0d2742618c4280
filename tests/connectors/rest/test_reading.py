"""Reading against the local API: the five pagination styles, records paths, batches and checkpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.errors import PermanentError
from tests.connectors.rest.conftest import MakeSystem, ids, read_all
from tests.connectors.rest.server import ApiState, contacts

STYLES: dict[str, dict[str, Any]] = {
    "link_header": {"path": "/link/contacts", "params": {"per_page": 10}, "pagination": {"type": "link_header"}},
    "page": {
        "path": "/pages/contacts",
        "pagination": {"type": "page", "size_param": "size", "size": 10},
        "total": {"header": "X-Total-Count"},
    },
    "offset": {
        "path": "/offsets/contacts",
        "records": "items",
        "pagination": {"type": "offset", "limit": 10},
        "total": {"path": "meta.total"},
    },
    "cursor": {
        "path": "/cursors/contacts",
        "records": "data",
        "pagination": {"type": "cursor", "path": "meta.next_cursor"},
    },
    "next_url": {
        "path": "/next/contacts",
        "records": "results",
        "pagination": {"type": "next_url", "path": "links.next"},
    },
}


def stream(style: str, **extra: Any) -> dict[str, Any]:
    return {"key": "id", **STYLES[style], **extra}


@pytest.mark.parametrize("style", list(STYLES))
async def test_each_pagination_style_reads_every_record_once_in_order(
    api: ApiState, make_system: MakeSystem, style: str
) -> None:
    api.contacts = contacts(35)
    connector = make_system({"contacts": stream(style)})

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 36))
    assert len(api.requests(f"/api{STYLES[style]['path']}")) == 4
    assert [batch.checkpoint for batch in batches] == [{}]


@pytest.mark.parametrize("style", ["page", "offset"])
async def test_numbered_pages_stop_at_a_short_page_after_checking_the_next_is_empty(
    api: ApiState, make_system: MakeSystem, style: str
) -> None:
    api.contacts = contacts(35)
    connector = make_system({"contacts": stream(style, total=None)}, concurrency=1)

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 36))
    pages = [seen.param("page") or seen.param("offset") for seen in api.requests(f"/api{STYLES[style]['path']}")]
    assert pages == (["1", "2", "3", "4", "5"] if style == "page" else ["0", "10", "20", "30", "40"])


async def test_pages_without_a_size_take_the_first_page_as_a_full_one(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(30)
    options = {"key": "id", "path": "/pages/contacts", "pagination": {"type": "page"}}
    connector = make_system({"contacts": options}, concurrency=1)

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 31))
    assert [seen.param("page") for seen in api.requests("/api/pages/contacts")] == ["1", "2", "3", "4"]
    assert api.requests("/api/pages/contacts")[0].param("size") is None


async def test_without_a_total_pages_fetched_ahead_go_at_most_concurrency_past_the_end(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(30)
    connector = make_system({"contacts": stream("page", total=None)}, concurrency=4)

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 31))
    pages = sorted(int(seen.param("page") or 0) for seen in api.requests("/api/pages/contacts"))
    assert pages[:4] == [1, 2, 3, 4]  # the fourth is the empty one
    assert max(pages) <= 4 + 3


async def test_a_page_style_api_that_answers_404_past_the_end_ends_the_read(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts, api.not_found_past_end = contacts(20), True
    connector = make_system({"contacts": stream("page", total=None)})

    assert ids(await read_all(connector, "contacts")) == list(range(1, 21))


async def test_a_404_for_the_first_page_fails_the_read(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": {"key": "id", "path": "/nowhere", "pagination": {"type": "page"}}})

    with pytest.raises(PermanentError, match=r"crm\.contacts: reading page 1: GET http://127\.0\.0\.1:\d+/api/nowhere"):
        await read_all(connector, "contacts")


async def test_an_api_that_returns_fewer_records_than_the_page_size_asked_fails_the_read(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts, api.max_limit = contacts(35), 10
    connector = make_system({"contacts": stream("offset", total=None, pagination={"type": "offset", "limit": 25})})

    with pytest.raises(PermanentError, match="fewer than a full page, but the page after it has more") as failed:
        await read_all(connector, "contacts")

    assert "set the page size in `pagination` to at most what the API returns" in str(failed.value)


async def test_numbered_pages_are_fetched_several_at_once_and_none_past_the_stated_total(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts, api.delay = contacts(95), 0.05
    connector = make_system({"contacts": stream("page")}, concurrency=4)

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 96))
    assert sorted(int(seen.param("page") or 0) for seen in api.requests("/api/pages/contacts")) == list(range(1, 11))
    assert api.most_in_flight == 4  # four pages at once: no timing needed (a busy machine failed a timed check)


async def test_records_are_cut_into_batches_across_pages(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(35)
    connector = make_system({"contacts": stream("cursor")})

    batches = await read_all(connector, "contacts", batch_size=15)

    assert [len(batch.records) for batch in batches] == [15, 15, 5]
    assert ids(batches) == list(range(1, 36))


async def test_a_page_larger_than_a_batch_is_split(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(10)
    connector = make_system({"contacts": stream("cursor")})

    batches = await read_all(connector, "contacts", batch_size=4)

    assert [len(batch.records) for batch in batches] == [4, 4, 2]


async def test_a_read_that_finds_nothing_yields_no_batch(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": stream("cursor")})

    assert await read_all(connector, "contacts") == []


# --- incremental ---------------------------------------------------------------------------------


async def test_incremental_checkpoints_hold_the_old_cursor_until_the_last_batch(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(35)
    options = stream("cursor", incremental={"cursor": "updated_at", "param": "updated_since"})
    connector = make_system({"contacts": options})
    greatest = max(row["updated_at"] for row in api.contacts)
    assert api.contacts[-1]["updated_at"] != greatest  # the API's order is not the cursor's

    batches = await read_all(connector, "contacts", batch_size=10)

    assert [batch.checkpoint for batch in batches] == [{}, {}, {}, {"cursor": greatest}]
    assert all(seen.param("updated_since") is None for seen in api.requests("/api/cursors/contacts"))


async def test_a_stored_cursor_is_sent_and_kept_by_intermediate_batches(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(35)
    options = stream("link_header", incremental={"cursor": "updated_at", "param": "updated_since"})
    connector = make_system({"contacts": options})
    stored = {"cursor": "2024-05-20T12:00:00Z"}
    newer = [row for row in api.contacts if row["updated_at"] >= stored["cursor"]]

    batches = await read_all(connector, "contacts", stored, batch_size=5)

    assert ids(batches) == [row["id"] for row in newer]
    assert [batch.checkpoint for batch in batches[:-1]] == [stored] * (len(batches) - 1)
    assert batches[-1].checkpoint == {"cursor": max(row["updated_at"] for row in newer)}
    assert api.requests("/api/link/contacts")[0].param("updated_since") == stored["cursor"]


async def test_a_read_with_nothing_new_keeps_the_stored_cursor_and_yields_nothing(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(5)
    options = stream("cursor", incremental={"cursor": "updated_at", "param": "updated_since"})
    connector = make_system({"contacts": options})

    assert await read_all(connector, "contacts", {"cursor": "2030-01-01T00:00:00Z"}) == []


async def test_cursor_values_compare_as_moments_not_as_text(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = [
        {"id": 1, "updated_at": "2024-05-01T12:00:00+02:00"},
        {"id": 2, "updated_at": "2024-05-01T11:00:00Z"},
    ]
    options = stream("cursor", incremental={"cursor": "updated_at", "param": "updated_since"})
    connector = make_system({"contacts": options})

    batches = await read_all(connector, "contacts")

    assert batches[-1].checkpoint == {"cursor": "2024-05-01T11:00:00Z"}  # 11:00 UTC is after 10:00 UTC


async def test_a_read_cut_off_midway_leaves_every_checkpoint_where_the_read_started(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(35)
    api.fault("GET", "/api/pages/contacts", status=400, skip=2)
    options = stream("page", incremental={"cursor": "updated_at", "param": "updated_since"}, total=None)
    connector = make_system({"contacts": options}, concurrency=1)
    stored = {"cursor": "2024-05-02T12:00:00Z"}
    checkpoints: list[dict[str, Any]] = []

    with pytest.raises(PermanentError, match="400"):
        async for batch in connector.read("contacts", stored, 5):
            checkpoints.append(batch.checkpoint)

    assert len(checkpoints) == 4  # two pages of ten, in batches of five
    assert checkpoints == [stored] * 4


async def test_a_batch_goes_once_full_and_the_cursor_comes_last_even_in_an_empty_batch(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(10)
    options = stream("page", incremental={"cursor": "updated_at", "param": "updated_since"}, total=None)
    connector = make_system({"contacts": options}, concurrency=1)

    batches = [batch async for batch in connector.read("contacts", None, 5)]

    assert [len(batch.records) for batch in batches] == [5, 5, 0]
    assert [batch.checkpoint for batch in batches[:2]] == [{}, {}]
    assert batches[2].checkpoint == {"cursor": max(record["updated_at"] for record in api.contacts)}


# --- what the body holds -------------------------------------------------------------------------


async def test_a_body_without_a_list_at_records_fails_naming_the_path(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(3)
    connector = make_system({"contacts": stream("cursor", records="meta.items")})

    with pytest.raises(PermanentError, match=r"no list of records at `meta\.items`, but nothing"):
        await read_all(connector, "contacts")


async def test_an_object_body_without_records_configured_says_to_set_records(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(3)
    connector = make_system({"contacts": stream("cursor", records=None)})

    with pytest.raises(PermanentError) as failed:
        await read_all(connector, "contacts")

    assert "an object with keys data, meta: set the stream's `records` to the path of the list" in str(failed.value)


# --- max_pages -----------------------------------------------------------------------------------


async def test_endless_next_links_stop_at_max_pages_with_a_clear_error(api: ApiState, make_system: MakeSystem) -> None:
    options = {"key": "id", "path": "/endless/contacts", "pagination": {"type": "link_header"}, "max_pages": 30}
    connector = make_system({"contacts": options})

    with pytest.raises(PermanentError) as failed:
        await asyncio.wait_for(read_all(connector, "contacts"), 60)

    assert str(failed.value) == (
        "crm.contacts: reading: the API gave 30 pages (30 records) and points to more, past the stream's "
        "`max_pages` (30): the read stops here instead of going on without end. If the stream really has more "
        "pages, raise its `max_pages`; else check `pagination`"
    )
    assert len(api.requests("/api/endless/contacts")) == 30


def test_max_pages_is_ten_thousand_unless_set(make_system: MakeSystem) -> None:
    connector = make_system({"contacts": stream("cursor"), "few": stream("cursor", max_pages=5)})

    assert [options.max_pages for options in connector.options.streams.values()] == [10_000, 5]


@pytest.mark.parametrize("style", ["page", "offset"])
async def test_numbered_pages_stop_at_max_pages(api: ApiState, make_system: MakeSystem, style: str) -> None:
    api.contacts = contacts(35)
    too_few = make_system({"contacts": stream(style, total=None, max_pages=3)}, concurrency=4)
    enough = make_system({"contacts": stream(style, total=None, max_pages=4)}, concurrency=4)

    with pytest.raises(PermanentError, match=r"the API gave 3 pages \(30 records\) and points to more"):
        await read_all(too_few, "contacts")
    asked = len(api.requests(f"/api{STYLES[style]['path']}"))

    assert ids(await read_all(enough, "contacts")) == list(range(1, 36))
    assert asked == 3, "no page past max_pages is asked for"
