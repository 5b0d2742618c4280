"""The five pagination styles: which request comes after a page, and which page is the last.

``page`` and ``offset`` number their pages, so the requests of later pages are
known before earlier answers come: those are fetched several at a time (see
:mod:`connectors.rest.reading`). ``link_header``, ``cursor`` and ``next_url``
learn the next request from each answer, so they go one page at a time.
A next-page URL (a ``Link`` header or a body field) may be relative: it is
resolved against the URL of the page that named it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from connectors.base import Record
from connectors.rest.config import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
    Pagination,
)
from connectors.rest.paths import MISSING, body_value

if TYPE_CHECKING:
    from connectors.rest.originals import PageAgain

Params = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class PageRequest:
    """One page's request: a path under ``base_url`` (or an absolute URL) and its query parameters.

    :param number: the page's place in the read, from 0
    """

    url: str
    params: Params
    number: int

    def identity(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What makes two requests the same page."""
        return self.url, tuple(sorted((name, str(value)) for name, value in self.params.items()))


@dataclass
class Page:
    """A page's answer: its records, its body and headers, the URL it came from, and how its records are had
    again once let go of (see :mod:`connectors.rest.originals`)."""

    request: PageRequest
    records: list[Record]
    body: Any
    headers: httpx.Headers
    url: str
    again: PageAgain | None = None

    def describe(self) -> str:
        return f"page {self.request.number + 1} ({self.url})"


class Paging:
    """No pagination: one request."""

    numbered = False
    """Whether later pages' requests are known in advance (``page``, ``offset``)."""

    def first(self, path: str, params: Params) -> PageRequest:
        return PageRequest(path, dict(params), 0)

    def after(self, page: Page) -> PageRequest | None:
        """The request of the page after ``page``, or ``None`` when ``page`` is the last."""
        return None


class NumberedPaging(Paging):
    """``page`` and ``offset``: page N's request is known without page N-1's answer.

    :param size: records per full page: configured, else (``page`` without ``size``) the first page's count
    """

    numbered = True

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.path = ""
        self.params: Params = {}

    def first(self, path: str, params: Params) -> PageRequest:
        self.path, self.params = path, dict(params)
        return self.numbered_request(0)

    def numbered_request(self, number: int) -> PageRequest:
        """The request of page ``number`` (from 0)."""
        raise NotImplementedError

    def is_last(self, page: Page) -> bool:
        """An empty page, or one shorter than a full page, is the last."""
        if page.request.number == 0 and self.size is None:
            self.size = len(page.records)
        return not page.records or (self.size is not None and len(page.records) < self.size)

    def after(self, page: Page) -> PageRequest | None:
        return None if self.is_last(page) else self.numbered_request(page.request.number + 1)


class PageNumbers(NumberedPaging):
    """``?page=1``, ``?page=2``… (from ``start``), with ``size_param=size`` when configured."""

    def __init__(self, options: PagePagination) -> None:
        super().__init__(options.size)
        self.options = options

    def numbered_request(self, number: int) -> PageRequest:
        params = {**self.params, self.options.param: self.options.start + number}
        if self.options.size_param is not None and self.options.size is not None:
            params[self.options.size_param] = self.options.size
        return PageRequest(self.path, params, number)


class Offsets(NumberedPaging):
    """``?offset=0&limit=100``, ``?offset=100&limit=100``…"""

    def __init__(self, options: OffsetPagination) -> None:
        super().__init__(options.limit)
        self.options = options

    def numbered_request(self, number: int) -> PageRequest:
        limit = self.options.limit
        params = {**self.params, self.options.param: number * limit, self.options.limit_param: limit}
        return PageRequest(self.path, params, number)


class LinkHeader(Paging):
    """Follow ``Link: <…>; rel="next"``."""

    def after(self, page: Page) -> PageRequest | None:
        target = next_link(page.headers)
        return None if not target else PageRequest(_resolve(page.url, target), {}, page.request.number + 1)


class BodyCursor(Paging):
    """Send the token at ``path`` in the body back as ``param``; absent, null or empty: the last page."""

    def __init__(self, options: CursorPagination) -> None:
        self.options = options
        self.path = ""
        self.params: Params = {}

    def first(self, path: str, params: Params) -> PageRequest:
        self.path, self.params = path, dict(params)
        return PageRequest(path, dict(params), 0)

    def token(self, page: Page) -> str | None:
        """The next page's token in ``page``'s body, or ``None``."""
        value = body_value(page.body, self.options.path)
        if value is MISSING or value is None or value == "" or value is False:
            return None
        return str(value)

    def after(self, page: Page) -> PageRequest | None:
        token = self.token(page)
        if token is None:
            return None
        return PageRequest(self.path, {**self.params, self.options.param: token}, page.request.number + 1)


class NextUrl(Paging):
    """Follow the URL at ``path`` in the body; absent, null or empty: the last page."""

    def __init__(self, options: NextUrlPagination) -> None:
        self.options = options

    def after(self, page: Page) -> PageRequest | None:
        value = body_value(page.body, self.options.path)
        if not isinstance(value, str) or not value:
            return None
        return PageRequest(_resolve(page.url, value), {}, page.request.number + 1)


def paging(options: Pagination | None) -> Paging:
    """The paging of a stream's ``pagination`` option (a fresh one per read)."""
    if options is None:
        return Paging()
    if isinstance(options, PagePagination):
        return PageNumbers(options)
    if isinstance(options, OffsetPagination):
        return Offsets(options)
    if isinstance(options, CursorPagination):
        return BodyCursor(options)
    if isinstance(options, NextUrlPagination):
        return NextUrl(options)
    assert isinstance(options, LinkHeaderPagination)
    return LinkHeader()


_LINK = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,="]+(?:=(?:"[^"]*"|[^;,"]*))?)*)')
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def next_link(headers: httpx.Headers) -> str | None:
    """The URL of the ``rel="next"`` link in the ``Link`` headers (RFC 8288), if there is one."""
    for value in headers.get_list("link"):
        for link in _LINK.finditer(value):
            rel = _REL.search(link.group(2))
            if rel is not None and "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                return link.group(1).strip()
    return None


def _resolve(base: str, target: str) -> str:
    """``target`` as an absolute URL, relative to the page that named it; as it is where httpx cannot
    read it (the request then fails, saying why: see :func:`connectors.rest.errors.unusable_url`)."""
    try:
        return str(httpx.URL(base).join(target))
    except (httpx.InvalidURL, UnicodeEncodeError):
        return target
