"""The one boundary: every httpx exception and every HTTP status becomes a transient or permanent error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.config import SecretValues
from app.errors import PermanentError, TransientError
from connectors.rest.errors import (
    NEVER_SENDABLE,
    NOT_SENT,
    NotFoundHttpError,
    PermanentHttpError,
    TransientHttpError,
    http_errors,
    retry_after,
    status_error,
)


def _subclasses(root: type[Exception]) -> list[type[Exception]]:
    found: list[type[Exception]] = []
    pending = [root]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


TRANSPORT_ERRORS: list[type[Exception]] = [httpx.TransportError, *_subclasses(httpx.TransportError)]


def _redact(text: str) -> str:
    return text.replace("s3cret", "***")


def test_the_list_of_transport_errors_is_complete() -> None:
    names = {kind.__name__ for kind in TRANSPORT_ERRORS}

    assert {"ConnectError", "ReadTimeout", "RemoteProtocolError", "ProxyError", "UnsupportedProtocol"} <= names
    assert len(TRANSPORT_ERRORS) >= 16


@pytest.mark.parametrize("kind", TRANSPORT_ERRORS, ids=lambda kind: kind.__name__)
def test_every_transport_error_is_mapped_from_the_original(kind: type[Exception]) -> None:
    original = kind("it failed with s3cret")

    with pytest.raises((TransientError, PermanentError)) as raised, http_errors("crm.contacts: reading", _redact):
        raise original

    assert raised.value.__cause__ is original
    assert str(raised.value).startswith("crm.contacts: reading: ")
    assert "s3cret" not in str(raised.value)
    if issubclass(kind, NEVER_SENDABLE):
        assert type(raised.value) is PermanentHttpError  # httpx will not send it: no retry can help
    else:
        assert isinstance(raised.value, TransientHttpError)
        assert raised.value.maybe_done is not issubclass(kind, NOT_SENT)


@pytest.mark.parametrize("kind", [httpx.DecodingError, httpx.TooManyRedirects], ids=lambda kind: kind.__name__)
def test_an_answer_httpx_cannot_read_is_permanent(kind: type[httpx.HTTPError]) -> None:
    with pytest.raises(PermanentHttpError), http_errors("crm.contacts: reading", _redact):
        raise kind("bad")


def test_errors_of_our_own_pass_through_untouched() -> None:
    error = PermanentError("crm.contacts: the answer has no list")

    with pytest.raises(PermanentError) as raised, http_errors("crm.contacts: reading", _redact):
        raise error

    assert raised.value is error


@pytest.mark.parametrize(
    ("status", "kind", "maybe_done"),
    [
        (408, TransientHttpError, False),
        (429, TransientHttpError, False),
        (500, TransientHttpError, True),
        (502, TransientHttpError, True),
        (503, TransientHttpError, False),
        (504, TransientHttpError, True),
        (400, PermanentHttpError, None),
        (401, PermanentHttpError, None),
        (403, PermanentHttpError, None),
        (404, NotFoundHttpError, None),
        (409, PermanentHttpError, None),
        (410, NotFoundHttpError, None),
        (422, PermanentHttpError, None),
        (302, PermanentHttpError, None),
    ],
)
def test_statuses_map_by_number(status: int, kind: type[Exception], maybe_done: bool | None) -> None:
    response = httpx.Response(status, json={"error": "why"})

    error = status_error(response, "crm.contacts: GET /contacts", _redact)

    assert type(error) is kind
    assert str(error).startswith(f'crm.contacts: GET /contacts: {status} {response.reason_phrase}: {{"error":"why"}}')
    if isinstance(error, TransientHttpError):
        assert error.maybe_done is maybe_done


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_success_is_no_error(status: int) -> None:
    assert status_error(httpx.Response(status), "x", _redact) is None


def test_a_long_answer_is_cut_and_scrubbed_in_the_message() -> None:
    response = httpx.Response(400, text="x" * 298 + "s3cret" + "x" * 1000)

    error = status_error(response, "x", _redact)

    assert str(error) == "x: 400 Bad Request: " + "x" * 298 + "**…"  # no part of the secret at the cut


def test_an_answer_is_scrubbed_before_its_spaces_are_made_one() -> None:
    """A secret holding two spaces (or a tab) echoed by the API lost one before it was looked for: shown whole."""
    secrets = SecretValues()
    secrets.add("bt-Secret  two\t5555")
    response = httpx.Response(401, text="invalid credentials:\n  bt-Secret  two\t5555 (check them)")

    error = status_error(response, "x", secrets.redact)

    assert str(error).startswith("x: 401 Unauthorized: invalid credentials: *** (check them)"), str(error)


def test_retry_after_in_seconds() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "12"})) == 12.0
    assert retry_after(httpx.Response(503, headers={"Retry-After": " 0 "})) == 0.0


def test_retry_after_as_a_date_counts_from_the_date_header() -> None:
    sent = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    headers = {"Date": format_datetime(sent, usegmt=True)}
    headers["Retry-After"] = format_datetime(sent + timedelta(seconds=90), usegmt=True)

    assert retry_after(httpx.Response(503, headers=headers)) == 90.0


def test_retry_after_as_a_date_without_a_date_header_counts_from_now() -> None:
    until = datetime.now(UTC) + timedelta(seconds=120)
    waited = retry_after(httpx.Response(429, headers={"Retry-After": format_datetime(until, usegmt=True)}))

    assert waited is not None and 110 < waited <= 120


@pytest.mark.parametrize(
    ("status", "value"), [(429, "soon"), (429, ""), (500, "10"), (503, "Wed, 99 Foo 2024 00:00:00 GMT")]
)
def test_retry_after_that_is_absent_unreadable_or_on_another_status_is_none(status: int, value: str) -> None:
    assert retry_after(httpx.Response(status, headers={"Retry-After": value})) is None


@pytest.mark.parametrize("value", [b"\xb2", b"1\xb2", b"\xb9\xb3", b"\xbd"])
def test_a_retry_after_of_digits_float_refuses_is_none_not_a_crash(value: bytes) -> None:
    assert retry_after(httpx.Response(429, headers=[(b"Retry-After", value)])) is None


def test_a_retry_after_date_in_the_past_waits_nothing() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)

    assert retry_after(httpx.Response(429, headers={"Retry-After": format_datetime(past, usegmt=True)})) == 0.0


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (httpx.ReadError, "the connection broke while the answer was read (it was reset or closed)"),
        (httpx.WriteError, "the connection broke while the request was sent (it was reset or closed)"),
        (httpx.NetworkError, "NetworkError"),
    ],
)
def test_a_broken_connection_without_words_of_its_own_says_what_broke_once(
    kind: type[httpx.TransportError], said: str
) -> None:
    with pytest.raises(TransientHttpError) as raised, http_errors("crm.contacts: reading", _redact):
        raise kind("")

    assert str(raised.value) == f"crm.contacts: reading: {said}"  # not "ReadError: ReadError"
