"""Cursor pagination: ``?limit=`` (default 50, at most 500) and an opaque ``?cursor=``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from app.errors import RequestError

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
CursorParam = Annotated[str | None, Query(description="From the previous page's `next`.")]
DEFAULT_LIMIT = 50
MAX_ID = 2**63 - 1
"""The largest id the state database holds (a signed 64-bit integer)."""
MAX_CURSOR = 4096
"""Characters of the longest cursor taken: those given out hold an id, or a name and an id."""


BAD_CURSOR = "bad cursor: pass the `next` value of the previous page unchanged"


class BadCursorError(RequestError):
    """A ``cursor`` that no page gave out (HTTP 400)."""


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The position a cursor stands for; ``None`` for the first page.

    :raises BadCursorError: when ``cursor`` was not made by :func:`encode_cursor`
    """
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("longer than any cursor given out")
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: JSON nested deeper than Python goes
        raise BadCursorError(BAD_CURSOR) from None
    if position is None:  # no page gives out a cursor of nothing: it would be the first page again
        raise BadCursorError(BAD_CURSOR)
    return position


def next_cursor(items: list[Any], limit: int, position: Any) -> str | None:
    """The cursor of the page after ``items``, or ``None`` when this page was the last."""
    return encode_cursor(position) if len(items) == limit else None


def int_cursor(cursor: str | None) -> int | None:
    """The id a cursor stands for. :raises BadCursorError: for anything but an id the state database can hold"""
    position = decode_cursor(cursor)
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or abs(position) > MAX_ID):
        raise BadCursorError(BAD_CURSOR)
    return position


def text_cursor(cursor: str | None) -> str | None:
    """The name a cursor stands for. :raises BadCursorError: for anything but text (a run's id from the runs
    list, say: it would answer a page that no page was before)"""
    position = decode_cursor(cursor)
    if position is not None and not isinstance(position, str):
        raise BadCursorError(BAD_CURSOR)
    return position
