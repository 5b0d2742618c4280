"""What an answer holds: its JSON body, the list of records in it, and the total it states.

A body is parsed so that nothing is lost (:func:`app.json_values.parse_json`):
numbers keep their exact value, text that is not valid Unicode is handed on as
it is, and lists and objects of a record nested deeper than the parser recurses
are each an unreadable value, for the engine to fail the records holding them
alone. Only a body that is not JSON at all fails the page.
"""

from __future__ import annotations

import codecs
from typing import Any

import httpx

from connectors.base import NotARecord, NotJson, PermanentError, Record, parse_json
from connectors.rest.config import Total
from connectors.rest.paths import MISSING, body_value, shape_of, shown_text
from connectors.rest.values import whole_number


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
        return parse_json(_declared_text(response, content), where=where)
    except NotJson as exc:
        raise PermanentError(f"{where}: {_not_json(response, content, exc.reason)}") from None


def _declared_text(response: httpx.Response, content: bytes) -> bytes | str:
    """The body as the parser should see it: JSON is UTF-8 (RFC 8259), and a body that is valid UTF-8
    is read so whatever its ``charset`` says (servers often label UTF-8 ``ISO-8859-1``). Only a body
    that is not UTF-8, from a server that names another charset, is read in that one; where that one
    cannot read it either, it is read as UTF-8 (the parser hands bad text on, for its record to fail)."""
    charset = response.charset_encoding
    if charset is None:
        return content
    try:
        if codecs.lookup(charset).name == "utf-8":
            return content
        content.decode("utf-8")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        return content
    except UnicodeDecodeError:
        return _decoded(content, charset)
    return content


def _decoded(content: bytes, charset: str) -> bytes | str:
    """``content`` in ``charset``; as it is where the charset cannot decode it: a codec of text to text
    (``rot13``) or of bytes to bytes (``base64``) raises LookupError, and UTF-16 or UTF-32 cut in a
    character, or out of range, raise UnicodeDecodeError even with ``surrogateescape``. Either failed the
    run as an unexpected error, and a create's answer the whole batch of writes."""
    try:
        return content.decode(charset, "surrogateescape")
    except (LookupError, UnicodeDecodeError):
        return content


def _not_json(response: httpx.Response, content: bytes, reason: str) -> str:
    kind = response.headers.get("Content-Type", "no Content-Type")
    if "html" in kind.lower() or content.lstrip()[:1] == b"<":
        return (
            f"the answer is not JSON ({kind}): check `base_url` and the stream's `path` (it is an HTML page: "
            "a login or error page, or a wrong address)"
        )
    return f"the answer ({response.status_code}, {kind}, {len(content)} bytes) is not JSON: {reason}"


def records_in(body: Any, path: str | None, where: str) -> list[Record]:
    """The list of records at ``path`` in ``body`` (``None``: the body itself); ``null`` there is no records.
    An item of the list that is not an object (``null``, a number) is a :class:`NotARecord`, which fails
    alone: one such item failed the whole read, at every run.

    :raises PermanentError: naming the path, when there is no list there
    """
    found = body_value(body, path)
    if found is None:
        return []
    if not isinstance(found, list):
        at = f"at `{path}`" if path else "(the body itself; no `records` path is configured)"
        hint = "set the stream's `records` to the path of the list" if isinstance(body, dict) else "check `records`"
        raise PermanentError(f"{where}: the answer has no list of records {at}, but {shape_of(found)}: {hint}")
    if all(type(record) is dict for record in found):
        return found
    at = f" at `{path}`" if path else ""
    return [_record(item, f"{where}: item {index} of the list{at}") for index, item in enumerate(found)]


def _record(item: Any, where: str) -> Record:
    if isinstance(item, dict):
        return item
    return NotARecord(item, f"{where} is {shape_of(item)}, not a record (an object)")


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
    if isinstance(value, str) and (number := whole_number(value)) is not None:
        value = number
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PermanentError(f"{where}: the total at {source} is {shown_text(repr(value))}, not a count of records")
    return value
