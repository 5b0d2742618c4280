"""A page seen twice, or fewer records than the API's own total, fails the read: no loop, no silent loss."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.errors import PermanentError
from connectors.base import Batch
from connectors.rest.answers import stated_total
from connectors.rest.config import Total
from tests.connectors.rest.conftest import MakeSystem, read_all
from tests.connectors.rest.server import ApiState, contacts


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"path": "/repeat/pages", "pagination": {"type": "page", "size_param": "size", "size": 10}},
            r"page 2 \(http://127\.0\.0\.1:\d+/api/repeat/pages\?page=2&size=10\) has the very same records as "
            r"page 1: the API is not moving on to the next page",
        ),
        (
            {"path": "/repeat/cursor", "records": "data", "pagination": {"type": "cursor", "path": "meta.next_cursor"}},
            r"after page 2 the API pointed to the cursor token 'again' again \(page 2 had it too\): "
            r"its pagination is going round in a circle",
        ),
        (
            {"path": "/repeat/link", "pagination": {"type": "link_header"}},
            r"after page 2 the API pointed to page 2 again \(http://127\.0\.0\.1:\d+/api/repeat/link\?page=2\)",
        ),
    ],
    ids=["same-records", "same-cursor-token", "same-next-link"],
)
async def test_a_page_seen_twice_fails_the_read_instead_of_looping(
    api: ApiState, make_system: MakeSystem, options: dict[str, Any], message: str
) -> None:
    api.contacts = contacts(30)
    connector = make_system({"contacts": {"key": "id", **options}}, concurrency=1)

    with pytest.raises(PermanentError, match=message) as failed:
        await asyncio.wait_for(read_all(connector, "contacts"), timeout=10)  # bounded, should it loop

    assert "the read stops here instead of looping" in str(failed.value)
    assert len(api.requests(f"/api{options['path']}")) <= 3


@pytest.mark.parametrize(
    ("options", "source"),
    [
        (
            {
                "path": "/pages/contacts",
                "pagination": {"type": "page", "size_param": "size", "size": 10},
                "total": {"header": "X-Total-Count"},
            },
            "header X-Total-Count",
        ),
        (
            {
                "path": "/offsets/contacts",
                "records": "items",
                "pagination": {"type": "offset", "limit": 10},
                "total": {"path": "meta.total"},
            },
            "`meta.total`",
        ),
    ],
    ids=["header", "body"],
)
async def test_fewer_records_than_the_stated_total_fails_the_read_and_moves_no_cursor(
    api: ApiState, make_system: MakeSystem, options: dict[str, Any], source: str
) -> None:
    api.contacts, api.total_bonus = contacts(35), 5
    incremental = {"cursor": "updated_at", "param": "updated_since"}
    connector = make_system({"contacts": {"key": "id", "incremental": incremental, **options}})
    batches: list[Batch] = []

    with pytest.raises(PermanentError) as failed:
        async for batch in connector.read("contacts", None, 10):
            batches.append(batch)

    assert str(failed.value) == (
        f"crm.contacts: reading: read 35 records, but the API stated a total of 40 ({source} of the first page): "
        "records would be missing, so the read fails; check `pagination` (an API may return fewer records per "
        "page than asked for)"
    )
    assert all(batch.checkpoint == {} for batch in batches)


@pytest.mark.parametrize(
    "options",
    [
        {"path": "/pages/contacts", "pagination": {"type": "page", "size_param": "size", "size": 10}},
        {"path": "/offsets/contacts", "records": "items", "pagination": {"type": "offset", "limit": 10}},
    ],
    ids=["page", "offset"],
)
async def test_more_records_than_the_stated_total_are_all_read_with_a_warning(
    api: ApiState, make_system: MakeSystem, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The read stopped once it had the stated total: an API whose total is capped (a search index states
    10,000 at most) or old (records added during the read) had the records past it dropped without a word.
    Failing such a read instead would fail every read of a busy API whose records grow while it is read."""
    api.contacts, api.total_bonus = contacts(35), -15  # states 20
    total = {"header": "X-Total-Count"} if "records" not in options else {"path": "meta.total"}
    connector = make_system({"contacts": {"key": "id", "total": total, **options}})

    batches = await read_all(connector, "contacts", batch_size=10)

    assert [record["id"] for batch in batches for record in batch.records] == list(range(1, 36))
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warned == [
        "crm.contacts: reading: read 35 records, more than the total of 20 the API stated (a capped or old count): "
        "all were read; if the API caps its total, remove the stream's `total`"
    ]


async def test_a_total_the_api_does_not_state_fails_the_read(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(3)
    options = {"path": "/link/contacts", "pagination": {"type": "link_header"}, "total": {"header": "X-Total"}}
    connector = make_system({"contacts": {"key": "id", **options}})

    with pytest.raises(PermanentError, match="the answer has no header X-Total, where `total` says the count is"):
        await read_all(connector, "contacts")


async def test_a_read_that_gets_the_stated_total_succeeds_asking_only_the_page_past_it(
    api: ApiState, make_system: MakeSystem
) -> None:
    """Pages are fetched ahead up to the stated total, not past it; the one page after it is asked for, in
    case the total is not the stream's count (see the test above)."""
    api.contacts = contacts(40)
    options = {
        "path": "/offsets/contacts",
        "records": "items",
        "pagination": {"type": "offset", "limit": 10},
        "total": {"path": "meta.total"},
    }
    connector = make_system({"contacts": {"key": "id", **options}}, concurrency=8)

    batches = await read_all(connector, "contacts")

    assert sum(len(batch.records) for batch in batches) == 40
    assert sorted(seen.param("offset") or "" for seen in api.requests("/api/offsets/contacts")) == [
        "0",
        "10",
        "20",
        "30",
        "40",
    ]


@pytest.mark.parametrize(
    ("stated", "shown"),
    [(b"\xb2", "'²'"), (b"9" * 5000, "\"'999")],
    ids=["superscript two", "5000 digits"],
)
def test_a_stated_total_of_digits_int_refuses_is_not_a_count_not_a_crash(stated: bytes, shown: str) -> None:
    """``str.isdigit()`` takes '²' and other digits ``int()`` refuses, and ``int()`` refuses more than 4,300
    digits: such an ``X-Total-Count`` failed the run as "an unexpected error (ValueError: …)"."""
    headers = httpx.Headers([(b"X-Total-Count", stated)])

    with pytest.raises(PermanentError, match=rf"^crm\.contacts: the total at header X-Total-Count is {shown}"):
        stated_total(Total(header="X-Total-Count"), [], headers, "crm.contacts")
