"""What an answer holds: its JSON body, the list of records in it, and the total it states."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from app.errors import PermanentError
from app.records import Record
from connectors.rest.config import Total
from connectors.rest.paths import MISSING, body_value, shape_of


def json_body(response: httpx.Response, where: str, *, empty: Any = MISSING) -> Any:
    """The answer's body as JSON; ``empty`` for an empty body where that is fine.

    :raises PermanentError: when the body is not JSON (or empty where ``empty`` is not given)
    """
    content = response.content
    if not content or content.isspace():  # not strip(): that copies the whole body
        if empty is not MISSING:
            return empty
        raise PermanentError(f"{where}: the answer ({response.status_code}) is empty, not JSON")
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("Content-Type", "no Content-Type")
        raise PermanentError(
            f"{where}: the answer is not JSON ({kind}): check `base_url` and the stream's `path`"
        ) from None


def records_in(body: Any, path: str | None, where: str) -> list[Record]:
    """The list of records at ``path`` in ``body`` (``None``: the body itself); ``null`` there is no records.

    :raises PermanentError: naming the path, when there is no list of objects there
    """
    found = body_value(body, path)
    if found is None:
        return []
    if not isinstance(found, list):
        at = f"at `{path}`" if path else "(the body itself; no `records` path is configured)"
        hint = "set the stream's `records` to the path of the list" if isinstance(body, dict) else "check `records`"
        raise PermanentError(f"{where}: the answer has no list of records {at}, but {shape_of(found)}: {hint}")
    for index, record in enumerate(found):
        if not isinstance(record, dict):
            at = f" at `{path}`" if path else ""
            raise PermanentError(
                f"{where}: item {index} of the list{at} is {shape_of(record)}, not a record (an object)"
            )
    return found


def stated_total(total: Total, body: Any, headers: httpx.Headers, where: str) -> int:
    """The record count the API states in an answer (its ``total`` option).

    :raises PermanentError: when it states none there, or one that is not a whole number
    """
    if total.header is not None:
        value: Any = headers.get(total.header)
        source = f"header {total.header}"
        if value is None:
            raise PermanentError(f"{where}: the answer has no {source}, where `total` says the count is")
    else:
        value = body_value(body, total.path)
        source = f"`{total.path}`"
        if value is MISSING:
            raise PermanentError(f"{where}: the answer has nothing at {source}, where `total` says the count is")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PermanentError(f"{where}: the total at {source} is {value!r}, not a count of records")
    return value
