"""One request budget per system, counted at the server; a bound on requests in flight; a shared pause."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from connectors.base import Write, WriteAction
from connectors.rest.config import RateLimit
from connectors.rest.limits import RequestLimits
from tests.connectors.rest.conftest import FakeClock, MakeSystem, read_all
from tests.connectors.rest.server import ApiState, contacts

PAGES = {"type": "page", "size_param": "size", "size": 10}


def most_in_any_window(arrivals: list[float], per: float) -> int:
    """The most arrivals in any window of ``per`` seconds."""
    times = sorted(arrivals)
    return max(
        (sum(1 for later in times[index:] if later - start < per) for index, start in enumerate(times)), default=0
    )


async def test_two_syncs_reading_one_system_together_stay_within_its_rate_limit(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts = contacts(100)
    streams = {
        "contacts": {"key": "id", "path": "/pages/contacts", "pagination": PAGES, "total": {"header": "X-Total-Count"}},
        "people": {
            "key": "id",
            "path": "/offsets/contacts",
            "records": "items",
            "pagination": {"type": "offset", "limit": 10},
        },
    }
    connector = make_system(streams, rate_limit={"requests": 4, "per": "250ms"}, concurrency=4)

    started = time.monotonic()
    first, second = await asyncio.gather(read_all(connector, "contacts"), read_all(connector, "people"))
    took = time.monotonic() - started

    assert sum(len(batch.records) for batch in first + second) == 200
    arrivals = [seen.at for seen in api.seen]
    assert len(arrivals) >= 21
    assert most_in_any_window(arrivals, 0.25) <= 4
    assert took < (len(arrivals) / 4 + 2) * 0.25 + 1.0  # the budget is used, not wasted


def test_the_window_count_sees_a_burst() -> None:
    assert most_in_any_window([0.0, 0.1, 0.2, 0.24, 0.3, 0.6], 0.25) == 4
    assert most_in_any_window([0.0, 0.25, 0.5], 0.25) == 1


async def test_requests_in_flight_never_exceed_concurrency_across_reads_and_writes(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.contacts, api.delay = contacts(60), 0.02
    write = {"create": {"method": "POST", "path": "/w/contacts"}}
    streams = {
        "contacts": {"key": "id", "path": "/pages/contacts", "pagination": PAGES, "total": {"header": "X-Total-Count"}},
        "written": {"key": "id", "path": "/w/contacts", "records": "data", "write": write},
    }
    connector = make_system(streams, concurrency=2)

    writes = [Write(WriteAction.CREATE, {"email": f"c{number}@x.se"}, None) for number in range(6)]
    _, results = await asyncio.gather(read_all(connector, "contacts"), connector.write("written", writes))

    assert all(result.ok for result in results)
    assert api.most_in_flight == 2


async def test_a_pause_holds_every_request_until_it_is_over(fake_clock: FakeClock) -> None:
    limits = RequestLimits(None, 4, fake_clock.clock)
    limits.pause(5)
    limits.pause(2)  # a shorter pause does not cut a longer one short

    async with limits.request():
        pass

    assert fake_clock.sleeps == [5.0]


async def test_the_rate_limit_frees_a_permit_only_a_window_after_the_answer(fake_clock: FakeClock) -> None:
    limits = RequestLimits(RateLimit(requests=2, per=timedelta(milliseconds=100)), 4, fake_clock.clock)
    loop = asyncio.get_running_loop()
    entered: list[float] = []

    async def one() -> None:
        async with limits.request():
            entered.append(loop.time())

    started = loop.time()
    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(5))), timeout=5)

    offsets = sorted(moment - started for moment in entered)
    assert offsets[1] < 0.05  # two permits: two at once
    assert offsets[2] >= 0.099 and offsets[3] >= 0.099 and offsets[4] >= 0.199
