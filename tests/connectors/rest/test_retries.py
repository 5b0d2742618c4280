"""Retries against the local API: only passing failures, with backoff and jitter, honouring ``Retry-After``."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.errors import PermanentError, TransientError
from connectors.base import RetryPolicy, retrying_as
from connectors.rest.retrying import RequestRetryPolicy
from tests.connectors.rest.conftest import FakeClock, MakeSystem, ids, read_all
from tests.connectors.rest.server import ApiState, contacts

PATH = "/api/link/contacts"
STREAM = {"contacts": {"key": "id", "path": "/link/contacts", "pagination": {"type": "link_header"}}}


async def test_a_429_waits_as_long_as_retry_after_says(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.contacts = contacts(3)
    api.fault("GET", PATH, status=429, headers={"Retry-After": "7"})
    connector = make_system(STREAM)

    batches = await read_all(connector, "contacts")

    assert ids(batches) == [1, 2, 3]
    assert fake_clock.sleeps == [7.0]
    assert len(api.requests(PATH)) == 2


async def test_a_retry_after_date_counts_from_the_answers_own_date(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.contacts = contacts(3)
    server_now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # far from this machine's clock: only the difference counts
    headers = {"Date": format_datetime(server_now, usegmt=True)}
    headers["Retry-After"] = format_datetime(server_now + timedelta(seconds=30), usegmt=True)
    api.fault("GET", PATH, status=503, headers=headers)
    connector = make_system(STREAM)

    assert ids(await read_all(connector, "contacts")) == [1, 2, 3]

    assert fake_clock.sleeps == [30.0]


async def test_a_retry_after_longer_than_brygga_waits_in_a_run_fails_at_once_as_transient(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.fault("GET", PATH, status=429, headers={"Retry-After": "3600"})
    connector = make_system(STREAM)

    with pytest.raises(TransientError, match="429 Too Many Requests"):
        await read_all(connector, "contacts")

    assert fake_clock.sleeps == []
    assert len(api.requests(PATH)) == 1


async def test_a_503_then_success_is_retried_and_delivered_once(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.contacts = contacts(25)
    api.fault("GET", PATH, status=503, skip=1)  # the second page
    connector = make_system({"contacts": {**STREAM["contacts"], "params": {"per_page": 10}}})

    batches = await read_all(connector, "contacts")

    assert ids(batches) == list(range(1, 26))
    assert [seen.param("page") for seen in api.requests(PATH)] == [None, "2", "2", "3"]
    assert len(fake_clock.sleeps) == 1


async def test_a_dropped_connection_is_retried(api: ApiState, make_system: MakeSystem) -> None:
    api.contacts = contacts(3)
    api.fault("GET", PATH, kind="drop")
    connector = make_system(STREAM)

    assert ids(await read_all(connector, "contacts")) == [1, 2, 3]
    assert len(api.requests(PATH)) == 2


async def test_a_dropped_connection_that_keeps_happening_ends_as_a_transient_error(
    api: ApiState, make_system: MakeSystem
) -> None:
    for _ in range(4):
        api.fault("GET", PATH, kind="drop")
    connector = make_system(STREAM)

    with pytest.raises(TransientError, match="the connection was dropped before a whole answer came"):
        await read_all(connector, "contacts")

    assert len(api.requests(PATH)) == 4


async def test_a_400_is_not_retried(api: ApiState, make_system: MakeSystem, fake_clock: FakeClock) -> None:
    api.fault("GET", PATH, status=400)
    connector = make_system(STREAM)

    with pytest.raises(PermanentError, match=r'400 Bad Request: \{"error":"scripted"\}'):
        await read_all(connector, "contacts")

    assert len(api.requests(PATH)) == 1
    assert fake_clock.sleeps == []


async def test_5xx_answers_are_retried_with_growing_jittered_backoff_until_the_tries_run_out(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    for _ in range(5):
        api.fault("GET", PATH, status=500)
    connector = make_system(STREAM)
    connector.retry_policy = RequestRetryPolicy(attempts=5, first_wait=1, most_wait=4)

    with pytest.raises(TransientError, match="500 Internal Server Error"):
        await read_all(connector, "contacts")

    assert len(api.requests(PATH)) == 5
    assert len(fake_clock.sleeps) == 4
    # backoff doubled each try up to most_wait, plus up to one first_wait of jitter (as the engine waits)
    assert all(low <= wait <= low + 1 for wait, low in zip(fake_clock.sleeps, [1, 2, 4, 4], strict=True))
    assert len({wait % 1 for wait in fake_clock.sleeps}) == 4  # jitter: no two waits alike


async def test_a_system_that_does_not_answer_in_time_is_a_transient_error(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.delay = 0.5
    connector = make_system(STREAM, timeout="50ms")
    connector.retry_policy = RequestRetryPolicy(attempts=2, first_wait=0.01, most_wait=0.01)

    # httpx's ReadTimeout or the whole request's deadline, whichever comes first: both are `timeout`
    with pytest.raises(TransientError, match=r"no answer in time \((ReadTimeout|the whole request)"):
        await read_all(connector, "contacts")


async def test_a_system_that_refuses_connections_is_a_transient_error(make_system: MakeSystem) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    connector = make_system(STREAM, base_url=f"http://127.0.0.1:{port}/api")

    with pytest.raises(TransientError, match="could not connect"):
        await read_all(connector, "contacts")


_PAST = format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True)


@pytest.mark.parametrize(
    "asked",
    ["0", "-5", "1.5", "0.0", _PAST, "soon", "", "²", "1e3", "0x10"],
    ids=["zero", "negative", "fractional", "zero-fraction", "date-in-the-past", "word", "empty", "superscript",
         "exponent", "hex"],
)  # fmt: skip
@pytest.mark.parametrize("status", [429, 503])
async def test_a_retry_after_of_nothing_or_garbage_still_waits_the_backoff_between_tries(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock, asked: str, status: int
) -> None:
    # Retry-After: 0 on every answer let all five tries go out back to back, hammering the API
    for _ in range(5):
        api.fault("GET", PATH, status=status, headers={"Retry-After": asked})
    connector = make_system(STREAM)
    connector.retry_policy = RequestRetryPolicy(attempts=5, first_wait=1, most_wait=4)

    with pytest.raises(TransientError, match=str(status)):
        await read_all(connector, "contacts")

    assert len(api.requests(PATH)) == 5
    assert len(fake_clock.sleeps) == 4
    assert all(wait >= low for wait, low in zip(fake_clock.sleeps, [1, 2, 4, 4], strict=True)), fake_clock.sleeps


async def test_a_retry_after_of_zero_waits_the_running_syncs_own_backoff(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.contacts = contacts(3)
    for _ in range(2):
        api.fault("GET", PATH, status=429, headers={"Retry-After": "0"})
    connector = make_system(STREAM)

    with retrying_as(RetryPolicy(attempts=5, backoff=timedelta(seconds=10), max_backoff=timedelta(minutes=1))):
        assert ids(await read_all(connector, "contacts")) == [1, 2, 3]

    assert len(fake_clock.sleeps) == 2
    assert fake_clock.sleeps[0] >= 10
    assert fake_clock.sleeps[1] >= 20


@pytest.mark.parametrize("asked", ["99999999999999999999999999999", "9" * 5000])
async def test_a_retry_after_beyond_any_number_fails_at_once_as_transient_for_a_later_run(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock, asked: str
) -> None:
    api.fault("GET", PATH, status=429, headers={"Retry-After": asked})
    connector = make_system(STREAM)

    with pytest.raises(TransientError, match="429 Too Many Requests") as raised:
        await read_all(connector, "contacts")

    assert raised.value.retry_after is not None and raised.value.retry_after > 300
    assert fake_clock.sleeps == []
    assert len(api.requests(PATH)) == 1
