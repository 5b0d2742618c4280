"""Reading a stream: pages in order, checked for completeness, cut into batches.

Completeness: a page seen twice (the same request, the same cursor token, or
the very same records again, told by their number and a digest of the JSON of the first
and the last) fails the read instead of looping; when the API states a total (``total``), a read that
ends with fewer records fails instead of silently dropping some. The total is
the one the first page states.

Checkpoints (``incremental: {cursor, param}``): an API returns records in its
own order, not the cursor's, so only the end of a whole read knows the
greatest cursor value. Every batch but the last carries the checkpoint the
read started from (``{}`` when there was none); the last carries
``{"cursor": V}``, V the greatest cursor value of the whole read (or of the
one it started from, if greater). A batch goes as soon as it is full, so the
last one is empty where the records fill the batches before it exactly: it
then carries only the cursor (holding a page back for it cost a page of
parsed records in memory throughout the read). A read cut off at any point
therefore starts again from the old cursor, and the stored cursor never runs
ahead of a record that was not processed. A read that gets no records yields no batch.
Without ``incremental``, every checkpoint is ``{}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import NamedTuple

import httpx
import orjson

from connectors.base import Batch, Checkpoint, PermanentError, Record, valid_unicode
from connectors.rest.answers import json_body, records_in, stated_total
from connectors.rest.client import RestClient
from connectors.rest.config import RestStream
from connectors.rest.errors import NotFoundHttpError
from connectors.rest.originals import PageAgain, Span, after, originals
from connectors.rest.paging import BodyCursor, NumberedPaging, Page, PageRequest, Paging, Params, paging
from connectors.rest.paths import shown_text
from connectors.rest.values import latest, param_text

log = logging.getLogger(__name__)


class Answer(NamedTuple):
    """A page's request and its answer, read whole: what a page fetched ahead holds until it is taken."""

    request: PageRequest
    response: httpx.Response


class StreamRead:
    """One read of one stream, from a checkpoint.

    :param where: the stream, for messages (``"crm.contacts"``)
    :param window: the most pages fetched at once where the pagination allows it
    """

    def __init__(
        self, client: RestClient, where: str, options: RestStream, checkpoint: Checkpoint | None, window: int
    ) -> None:
        self.client = client
        self.where = f"{where}: reading"
        self.options = options
        self.started_from: Checkpoint = dict(checkpoint) if checkpoint else {}
        self.window = max(1, window)
        self.paging: Paging = paging(options.pagination)
        self.cursor = self.started_from.get("cursor") if options.incremental is not None else None
        self.count = 0
        self.total: int | None = None
        self._cursor_seen = False
        self._seen_requests: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self._seen_records: dict[tuple[int, object, object], int] = {}

    # --- batches ---------------------------------------------------------------------

    async def batches(self, batch_size: int) -> AsyncGenerator[Batch, None]:
        """The stream's records in batches of at most ``batch_size``; checkpoints as the module says."""
        held: list[Record] = []
        spans: list[Span] = []
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                if page.again is not None and page.records:
                    spans.append(Span(len(held), page.again, 0))
                held.extend(page.records)
                while len(held) >= batch_size:
                    batch, held = held[:batch_size], held[batch_size:]
                    yield Batch(batch, dict(self.started_from), originals(spans))
                    del batch
                    spans = after(spans, batch_size)
        self._check_total()
        final = self._final_checkpoint()
        if held or final != self.started_from:
            yield Batch(held, final, originals(spans) if held else None)

    def _final_checkpoint(self) -> Checkpoint:
        incremental = self.options.incremental
        if incremental is None:
            return {}
        if self.count and not self._cursor_seen:
            log.warning(
                "%s: no record had the cursor field %s: the next read starts from the same place",
                self.where,
                incremental.cursor,
            )
        return {"cursor": self.cursor} if self.cursor is not None else self.started_from

    def _check_total(self) -> None:
        """Fewer records than the API stated fail the read: some would be missing. More are all read, with a
        warning: a total may be capped (a search index states 10,000 at most) or old (records added during
        the read), and stopping at it dropped the rest without a word."""
        total = self.options.total
        if total is None or self.total is None or self.count == self.total:
            return
        if self.count > self.total:
            log.warning(
                "%s: read %s records, more than the total of %s the API stated (a capped or old count): "
                "all were read; if the API caps its total, remove the stream's `total`",
                self.where, self.count, self.total,
            )  # fmt: skip
            return
        source = f"header {total.header}" if total.header else f"`{total.path}`"
        raise PermanentError(
            f"{self.where}: read {self.count} records, but the API stated a total of {self.total} ({source} "
            "of the first page): records would be missing, so the read fails; check `pagination` "
            "(an API may return fewer records per page than asked for)"
        )

    # --- pages -----------------------------------------------------------------------

    async def pages(self) -> AsyncGenerator[Page, None]:
        """Every page of the read, in order, each checked and counted."""
        first = self.paging.first(self.options.path, self._params())
        pages = self._numbered(self.paging, first) if isinstance(self.paging, NumberedPaging) else self._followed(first)
        async with aclosing(pages):
            async for page in pages:
                yield page

    def _params(self) -> Params:
        params: Params = dict(self.options.params)
        if self.options.incremental is not None and self.cursor is not None:
            params[self.options.incremental.param] = param_text(self.cursor)
        return params

    async def _followed(self, request: PageRequest | None) -> AsyncGenerator[Page, None]:
        """One page at a time, each request learnt from the answer before."""
        while request is not None:
            self._check_page_count(request.number)
            self._check_new_request(request)
            page = self._took(await self.fetch(request))
            yield page
            request = self.paging.after(page)

    async def _numbered(self, paging: NumberedPaging, first: PageRequest) -> AsyncGenerator[Page, None]:
        """Pages known by number: fetched ahead, up to ``window`` at once (the window doubles from one
        page each time a page is full), taken in order. Once the first page states a total, no page
        past it is fetched ahead; the one page after it is asked for all the same, and where it holds
        records the read goes on to the end (see :meth:`_check_total`). A page fetched ahead waits as its answer's
        bytes, parsed when taken: its records would take ~5 times the memory (a page of 1,000 records:
        300 KB of JSON, 1.6 MB parsed)."""
        pending: deque[asyncio.Task[Answer | None]] = deque()
        number, window, last = 0, 1, None
        try:
            while True:
                while len(pending) < window and (last is None or number <= last) and number < self.options.max_pages:
                    request = first if number == 0 else paging.numbered_request(number)
                    pending.append(asyncio.ensure_future(self._fetch_numbered(request)))
                    number += 1
                if not pending:
                    if last is None or number <= last:  # more pages are needed than max_pages allows
                        self._check_page_count(number)
                    return
                fetched = await pending.popleft()
                if fetched is None:  # a 404 past the first page: past the end
                    return
                page = self._took(self._page(fetched))
                del fetched
                yield page
                short = paging.is_last(page)
                if page.request.number == 0 and self.total is not None and paging.size:
                    last = max(0, math.ceil(self.total / paging.size) - 1)
                if short:
                    await self._check_nothing_after(paging, page, pending)
                    return
                if last is not None and self.total is not None and self.count >= self.total:
                    # the page after the total is asked for alone; past it, the total is no end (_check_total)
                    last = page.request.number + 1 if self.count == self.total else None
                window = min(window * 2, self.window)
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _fetch_numbered(self, request: PageRequest) -> Answer | None:
        try:
            return await self._answer(request)
        except NotFoundHttpError:
            if request.number == 0:
                raise
            return None  # some APIs answer 404 for a page past the last one

    async def _check_nothing_after(
        self, paging: NumberedPaging, page: Page, pending: deque[asyncio.Task[Answer | None]]
    ) -> None:
        """A short page ends the read: unless the API stated a total (checked at the end), the page after
        it must be empty, else the API returns fewer records per page than asked for and the rest would
        be dropped silently. The next page is often fetched already; else it is asked for now."""
        if not page.records or (self.total is not None and not pending):
            return
        following = await self._following(paging, page, pending)
        if following is not None and following.records:
            shown = self.client.redact(page.describe())
            raise PermanentError(
                f"{self.where}: {shown} had {len(page.records)} records, fewer than a full page, but the page "
                "after it has more: the API returns fewer records per page than asked for; "
                "set the page size in `pagination` to at most what the API returns"
            )

    async def _following(
        self, paging: NumberedPaging, page: Page, pending: deque[asyncio.Task[Answer | None]]
    ) -> Page | None:
        """The page after ``page`` (fetched already, or asked for now); ``None`` where there is none."""
        following_page = (
            pending.popleft() if pending else self._fetch_numbered(paging.numbered_request(page.request.number + 1))
        )
        try:
            answer = await following_page
            return None if answer is None else self._page(answer)
        except PermanentError:  # an API may refuse a page past the end (400): then there is none
            return None

    async def fetch(self, request: PageRequest) -> Page:
        """One page: its records, body and headers."""
        return self._page(await self._answer(request))

    async def _answer(self, request: PageRequest) -> Answer:
        """One page's answer, read whole and not parsed yet."""
        where = f"{self.where} page {request.number + 1}"
        return Answer(request, await self.client.request("GET", request.url, where, params=request.params))

    def _page(self, answer: Answer) -> Page:
        """The page of ``answer``: its body parsed, its records found in it."""
        request, response = answer
        where = f"{self.where} page {request.number + 1}: {self.client.redact(str(response.url))}"
        body, path = json_body(response, where), self.options.records
        records = records_in(body, path, where)
        again = PageAgain(lambda: records_in(json_body(response, where), path, where))  # the answer, not the read
        return Page(request, records, body, response.headers, str(response.url), again)

    # --- checks ------------------------------------------------------------------------

    def _took(self, page: Page) -> Page:
        """Check ``page`` against the pages before it, then count it."""
        if page.records:
            digest = _fingerprint(page.records)
            earlier = self._seen_records.setdefault(digest, page.request.number)
            if earlier != page.request.number:
                raise PermanentError(
                    f"{self.where}: {self.client.redact(page.describe())} has the very same records as page "
                    f"{earlier + 1}: the API is not moving on to the next page (check `pagination`); "
                    "the read stops here instead of looping"
                )
        if page.request.number == 0 and self.options.total is not None:
            self.total = stated_total(self.options.total, page.body, page.headers, f"{self.where}: first page")
        self.count += len(page.records)
        incremental = self.options.incremental
        if incremental is not None and page.records:
            values = _usable_cursors([record.get(incremental.cursor) for record in page.records])
            if any(value is not None for value in values):
                self._cursor_seen = True
                self.cursor = latest([*values, self.cursor])
        return page

    def _check_page_count(self, number: int) -> None:
        """Fail the read before page ``number`` (from 0) past the stream's ``max_pages``: an API that
        keeps pointing to new pages (a ``next`` link to a new URL each time) would else never end."""
        most = self.options.max_pages
        if number < most:
            return
        raise PermanentError(
            f"{self.where}: the API gave {most:,} pages ({self.count:,} records) and points to more, past the "
            f"stream's `max_pages` ({most:,}): the read stops here instead of going on without end. If the "
            "stream really has more pages, raise its `max_pages`; else check `pagination`"
        )

    def _check_new_request(self, request: PageRequest) -> None:
        identity = request.identity()
        earlier = self._seen_requests.setdefault(identity, request.number)
        if earlier == request.number:
            return
        if isinstance(self.paging, BodyCursor):
            token = shown_text(repr(request.params.get(self.paging.options.param)))
            what = f"the cursor token {token} again (page {earlier + 1} had it too)"
        else:
            what = f"page {earlier + 1} again ({self.client.redact(request.url)})"
        raise PermanentError(
            f"{self.where}: after page {request.number} the API pointed to {what}: "
            "its pagination is going round in a circle; the read stops here instead of looping"
        )


MOST_CURSOR = 1_000
"""The longest cursor value taken, in characters: timestamps, numbers and versions are far shorter, and
the value goes back in the URL of every later read."""


def _usable_cursor(value: object) -> object:
    """``value``, or ``None`` for one that cannot be sent back as a parameter or stored as a checkpoint
    (text with a lone surrogate or a NUL: such a record fails alone), for text longer than
    :data:`MOST_CURSOR` (stored, it made every later read fail, its URL too long, until the sync was
    reset), and for an object or a list, which is no point in time to read from. The cursor does not
    move for such a value; its record is read as any other."""
    if isinstance(value, dict | list):
        return None
    if isinstance(value, str) and (len(value) > MOST_CURSOR or "\x00" in value or not valid_unicode(value)):
        return None
    return value


def _usable_cursors(values: list[object]) -> list[object]:
    """:func:`_usable_cursor` of each value; the whole page's text checked at once where all is text."""
    if all(type(value) is str for value in values):
        text = "".join(values)  # type: ignore[arg-type]  # every value is text: checked just above
        if "\x00" not in text and valid_unicode(text) and max(map(len, values)) <= MOST_CURSOR:  # type: ignore[arg-type]
            return values
    return [_usable_cursor(value) for value in values]


def _fingerprint(records: list[Record]) -> tuple[int, object, object]:
    """What tells a page of records from another: how many, the first and the last. An API that pages on
    repeats them all; one that moves on starts and ends with other records (writing the whole page out
    again to compare it cost as much as a tenth of a read)."""
    return len(records), _identity(records[0]), _identity(records[-1])


def _identity(record: Record) -> object:
    """A digest of ``record``'s JSON: kept for every page of the read, so it must be small whatever the
    record's size (the JSON itself, kept, grew a read of 20 pages of one 20 MB record each to 1.3 GB).
    One that orjson cannot write (an integer beyond 64 bits, a :class:`~decimal.Decimal`, a lone
    surrogate, nesting past 254 levels) is told by its ``repr``, and one too deep even for that is a
    token equal to nothing: it is the record's to fail, not the page's."""
    try:
        text = orjson.dumps(record)
    except orjson.JSONEncodeError:
        try:
            text = repr(record).encode("utf-8", "surrogatepass")
        except RecursionError:
            return object()
    return hashlib.blake2b(text, digest_size=16).digest()
