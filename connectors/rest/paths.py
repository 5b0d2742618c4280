"""Paths into a JSON body (``data.items``, ``results[0].id``) and ``{key}`` in a request path.

A body path is written as a mapping's source path (:func:`connectors.base.parse_path`): names
joined by dots, ``[N]`` for a list item, ``["name"]`` for a name with dots in it. The old form of
a list item, a number after a dot (``results.0.id``), is still read (a name where the object has
it, else the list's item), and ``brygga validate`` says how to write it now. A request path's placeholders are
``{key}`` (the whole key, for a one-field key) and ``{FIELD}`` for each key
field (``/orders/{order_no}/lines/{line_no}`` for a composite key); each
value is URL-quoted, so a key such as ``a/b`` stays one path segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote

from connectors.base import PermanentError, Record, Step, format_key, format_path, parse_key, parse_path

MISSING: Final = object()
"""What :func:`body_value` returns where the body has nothing at the path."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def body_value(body: Any, path: str | None) -> Any:
    """The value at ``path`` in ``body`` (``None``: the body itself), or :data:`MISSING`."""
    current = body
    for step in body_steps(path):
        current = _step_into(current, step)
        if current is MISSING:
            break
    return current


def _step_into(value: Any, step: Step) -> Any:
    if isinstance(value, dict):
        return value[step] if isinstance(step, str) and step in value else MISSING
    if not isinstance(value, list):
        return MISSING
    if isinstance(step, str) and step.isdigit():  # the old form of a list item, results.0.id
        step = int(step)
    return value[step] if isinstance(step, int) and -len(value) <= step < len(value) else MISSING


@lru_cache(maxsize=256)
def body_steps(path: str | None) -> tuple[Step, ...]:
    """The steps of a body path, parsed once (``None`` or empty: the body itself, no step).

    :raises PathSyntaxError: for a path that does not parse (the options' checks report it first)
    """
    return parse_path(path) if path and path.strip() else ()


def path_prefixes(path: str | None) -> list[str | None]:
    """``"data.items"`` → ``["data.items", "data", None]``: from the path itself out to the body."""
    steps = body_steps(path)
    return [format_path(steps[:end]) for end in range(len(steps), 0, -1)] + [None]


def shown_text(text: str, limit: int = 100) -> str:
    """``text`` fit for a message: as it is when it is short and printable; else quoted, with control
    characters and lone surrogates escaped (a message is logged and stored: a NUL or a lone surrogate
    would break that), cut at ``limit`` characters."""
    if len(text) <= limit and text.isprintable():
        return text
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def shape_of(value: Any) -> str:
    """What ``value`` is, in words, for an error message."""
    if value is MISSING:
        return "nothing"
    if isinstance(value, dict):
        keys = ", ".join(shown_text(str(key), 40) for key in list(value)[:10]) + (", …" if len(value) > 10 else "")
        return f"an object with keys {keys}" if value else "an empty object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__} value"


def placeholders(template: str) -> list[str]:
    """The names in ``{…}`` in a request path."""
    return _PLACEHOLDER.findall(template)


def template_problem(template: str, key_fields: Sequence[str]) -> str | None:
    """Why ``template`` cannot be filled from a key of ``key_fields``, or ``None`` when it can."""
    for name in placeholders(template):
        if name == "key" and len(key_fields) > 1:
            fields = ", ".join(f"{{{field}}}" for field in key_fields)
            return f"{{key}} in '{template}' stands for a one-field key; this key has several: use {fields}"
        if name != "key" and name not in key_fields:
            known = ", ".join(["{key}", *(f"{{{field}}}" for field in key_fields)])
            return f"'{{{name}}}' in '{template}' is not a key field: use {known}"
    return None


def fill_key(template: str, key: str, key_fields: Sequence[str]) -> str:
    """``template`` with each placeholder replaced by the URL-quoted key (part): exactly one path segment.

    :raises ValueError: when ``key`` is not a key of ``key_fields``' width
    :raises KeyRefused: when a part cannot be one segment (see :func:`segment`)
    """
    parts = dict(zip(key_fields, parse_key(key, len(key_fields)), strict=True))

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return segment(key if name == "key" else parts[name])

    return _PLACEHOLDER.sub(value, template)


def segment(part: str) -> str:
    """``part`` of a key as one path segment: URL-quoted (``a/b`` → ``a%2Fb``, ``?`` → ``%3F``).

    :raises KeyRefused: for a part no URL can hold as one segment: empty (``/contacts/`` is the
        collection), ``.`` or ``..`` (a URL resolves them: ``/orders/7/lines/..`` is order 7), or text
        that is not valid Unicode
    """
    if part in ("", ".", ".."):
        what = "is empty" if not part else f"is '{part}'"
        raise KeyRefused(f"the key {what}, which a URL cannot hold as a path segment of its own")
    try:
        return quote(part, safe="")
    except UnicodeEncodeError:
        raise KeyRefused(f"the key {shown_text(part)} has text that is not valid Unicode (a lone surrogate)") from None


class KeyRefused(ValueError):
    """A key that cannot be put into a request path; the message says why."""


def request_path(template: str, key: str, key_fields: Sequence[str], where: str) -> str:
    """:func:`fill_key`, failing the record with a message that says why where it cannot.

    :raises PermanentError: when ``key`` cannot fill ``template``
    """
    try:
        return fill_key(template, key, key_fields)
    except KeyRefused as exc:
        reason = str(exc)
    except (ValueError, KeyError) as exc:
        reason = f"'{shown_text(key)}' is not a key of {', '.join(key_fields)}"
        raise PermanentError(f"{where}: {reason}") from exc
    raise PermanentError(f"{where}: {reason}; no request is sent for it")


def record_key(record: Record, key_fields: Sequence[str]) -> str | None:
    """The key of ``record`` as text, or ``None`` when a key field is missing or null."""
    values = [record.get(name) for name in key_fields]
    return None if any(value is None for value in values) else format_key(values)


def record_in(body: Any, records: str | None, key_fields: Sequence[str]) -> Record | None:
    """The one record an answer about a single record holds: the first object that has the key fields.

    Looked for at the stream's ``records`` path, then each shorter path towards
    the body, then the body itself (``{"data": {"id": 7}}`` for ``records: data``;
    ``{"id": 7}`` plain), then the values of the body's own keys, where exactly
    one has the key fields (``{"customer": {"id": 7}}`` beside ``records: customers``);
    a list of exactly one object counts as that object.
    """
    for path in path_prefixes(records):
        candidate = _one_object(body_value(body, path))
        if candidate is not None and record_key(candidate, key_fields) is not None:
            return candidate
    if isinstance(body, dict):
        inside = [found for value in body.values() if (found := _one_object(value)) is not None]
        keyed = [found for found in inside if record_key(found, key_fields) is not None]
        if len(keyed) == 1:
            return keyed[0]
    return None


def _one_object(value: Any) -> Record | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, dict) else None


def object_in(body: Any, records: str | None) -> Record | None:
    """Like :func:`record_in`, for an answer whose record may lack its key fields: the first object found
    at the ``records`` path, a shorter one, or the body."""
    for path in path_prefixes(records):
        if (candidate := _one_object(body_value(body, path))) is not None:
            return candidate
    return None
