"""The one boundary where httpx exceptions and HTTP statuses become Brygga's errors.

Transient (worth retrying): every failure to reach the system or get a whole
answer (connection errors, timeouts, dropped connections, proxies, and a
request whose whole answer did not come within ``timeout``), and the
statuses 408, 429 and 5xx. Permanent (dead-letter now): every other 4xx, a
3xx that was not followed, and a request httpx refuses to make at all (an
unsupported URL scheme, an illegal header value), which no retry can fix.

Each transient error also says whether the system may have acted on the
request (:attr:`TransientHttpError.maybe_done`): a create is only sent again
when it certainly was not (the connection was never made, or the answer was
429, 503 or 408). Messages carry the request and the system's own words,
scrubbed of every secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from connectors.base import ConnectorError, PermanentError, TransientError

Redact = Callable[[str], str]


class TransientHttpError(TransientError):
    """A request that failed for a passing reason (``maybe_done``, ``retry_after``, ``retried``: see
    :class:`~app.errors.TransientError`).

    :param status: the HTTP status, or ``None`` when no answer came
    """

    def __init__(
        self,
        message: str,
        *,
        maybe_done: bool,
        status: int | None = None,
        retry_after: float | None = None,
        retried: bool = False,
    ) -> None:
        super().__init__(message, retried=retried, retry_after=retry_after, maybe_done=maybe_done)
        self.status = status


class PermanentHttpError(PermanentError):
    """A request the system refused, or one that cannot be made; retrying will not help.

    :param status: the HTTP status, or ``None`` when the request was never sent
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CredentialsRefused(PermanentHttpError):
    """The system refused Brygga's own credentials (an OAuth2 token endpoint's ``invalid_client``): no
    request can succeed, so the run stops, rather than each record failing alone with one more try of
    credentials that are wrong (which may lock the account)."""


class TokenAnswerUnusable(CredentialsRefused):
    """An OAuth2 token endpoint answered with success but no usable token (an HTML page, JSON without
    ``access_token``): no request can succeed either, so the run stops too, and the answer is kept as every
    request's for a while rather than asked for again by each (see
    :class:`~connectors.rest.auth.OAuth2Credentials`)."""


class NotFoundHttpError(PermanentHttpError):
    """404 or 410: no such record (or path)."""


NOT_SENT: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that prove the request never left: no connection was made."""

NEVER_SENDABLE: tuple[type[httpx.TransportError], ...] = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
"""httpx refused to make the request (an ``ftp://`` next-page URL, an illegal header value): no retry can help."""

NOT_DONE_STATUSES = frozenset({408, 429, 503})
"""Answers that say the request was not acted on: timed out before it was read, rate limited, unavailable."""


@contextmanager
def http_errors(where: str, redact: Redact) -> Iterator[None]:
    """Raise what httpx raises inside as :class:`TransientHttpError` or :class:`PermanentHttpError`.

    :param where: the request, for the message (``"crm.contacts: GET https://…/contacts?page=2"``)
    :param redact: scrubs secrets from the message
    """
    try:
        yield
    except httpx.HTTPError as exc:
        raise transport_error(exc, where, redact) from exc
    except TimeoutError as exc:  # the whole request's deadline: it may have arrived, as after a ReadTimeout
        raise TransientHttpError(
            redact(f"{where}: no answer in time (the whole request took longer than the system's `timeout`)"),
            maybe_done=True,
        ) from exc


@contextmanager
def unusable_url(where: str, redact: Redact) -> Iterator[None]:
    """Raise a URL that httpx cannot make a request to as :class:`PermanentHttpError`: one with text that
    is not valid Unicode (a lone surrogate, from an answer's next-page link or a record's value) or a
    control character. No retry can help; the message escapes the character.
    """
    try:
        yield
    except UnicodeEncodeError as exc:
        raise PermanentHttpError(
            redact(f"{where}: the request cannot be made: its URL has text that is not valid Unicode ({exc.reason})")
        ) from exc
    except httpx.InvalidURL as exc:
        raise PermanentHttpError(redact(f"{where}: the request cannot be made: {exc}")) from exc


def transport_error(exc: httpx.HTTPError, where: str, redact: Redact) -> ConnectorError:
    """``exc`` (no answer, or an answer httpx could not read) as the error to raise ``from`` it."""
    detail = redact(f"{where}: {_describe(exc)}")
    if isinstance(exc, NEVER_SENDABLE):
        return PermanentHttpError(detail)
    if isinstance(exc, httpx.TransportError):
        return TransientHttpError(detail, maybe_done=not isinstance(exc, NOT_SENT))
    return PermanentHttpError(detail)  # DecodingError, TooManyRedirects: the answer itself is wrong


def status_error(response: httpx.Response, where: str, redact: Redact) -> ConnectorError | None:
    """The error a response's status means, or ``None`` for a success (2xx)."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    message = redact(f"{where}: {status} {response.reason_phrase}{_answer_detail(response, redact)}{_hint(status)}")
    if status in (408, 429) or status >= 500:
        return TransientHttpError(
            message, maybe_done=status not in NOT_DONE_STATUSES, status=status, retry_after=retry_after(response)
        )
    if status in (404, 410):
        return NotFoundHttpError(message, status=status)
    return PermanentHttpError(message, status=status)


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a 429 or 503 answer asks us to wait (``Retry-After``: seconds or an HTTP date), if any.

    A date is counted from the answer's own ``Date`` header where it has one, so a
    clock that differs from the server's does not matter.
    """
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # str.isdigit() takes '²' and other digits float() refuses
        return float(value)
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = datetime.now(UTC)
    if sent := response.headers.get("Date"):
        with suppress(TypeError, ValueError, IndexError):
            now = parsedate_to_datetime(sent)
    if until.tzinfo is None or now.tzinfo is None:
        return None
    return max(0.0, (until - now).total_seconds())


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__}: {text})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection was dropped before a whole answer came ({text})"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({text})"
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirected too many times"
    said = f" ({text})" if text != type(exc).__name__ else ""
    if isinstance(exc, httpx.ReadError):
        return f"the connection broke while the answer was read (it was reset or closed){said}"
    if isinstance(exc, httpx.WriteError):
        return f"the connection broke while the request was sent (it was reset or closed){said}"
    return f"{type(exc).__name__}{': ' + text if said else ''}"


def _answer_detail(response: httpx.Response, redact: Redact) -> str:
    """The start of the answer's body, where it says why (a validation message); scrubbed before it is cut,
    so no part of a secret is left at the cut."""
    try:
        text = response.text.strip()
    except (UnicodeDecodeError, LookupError, httpx.ResponseNotRead):
        return ""
    if not text:
        return ""
    text = " ".join(redact(text).split())  # scrubbed first: a secret holding two spaces would lose one
    return f": {text[:300]}{'…' if len(text) > 300 else ''}"


def _hint(status: int) -> str:
    if status == 401:
        return " (the system refused the credentials: check `auth`)"
    if status == 403:
        return " (the credentials may not do this: check their permissions)"
    if 300 <= status < 400:
        return " (a redirect that was not followed: check `base_url` and the paths)"
    return ""
