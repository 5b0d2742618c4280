"""Secret values: everything that came into the config from the environment.

SPEC 2 promises that values from ``${...}`` never appear in logs, API
answers or errors. Rather than trusting every printer to remember which
fields are sensitive, every value read from the environment is collected
here and scrubbed from text at the output boundaries.

By the time text reaches a boundary, a secret in it has often been encoded:
JSON-escaped in an answer body, percent-encoded in a URL (by httpx, which
leaves some characters as they are and encodes others), ``repr()``-escaped
in a traceback or a config error, or two of these in turn. So each
character of a secret is matched in any of the forms these encoders give it,
and a secret is found whatever mix of forms its characters are in.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
import string
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import NamedTuple
from urllib.parse import quote, quote_plus

REDACTED = "***"

MIN_SECRET_LENGTH = 4
"""Shorter values are not secret: three characters are guessed in moments, and hiding every word of two or
three letters that equals one (a folder ``erp``, a flag ``on``) would garble ordinary messages."""

WHOLE_WORD_BELOW = 8
"""Values shorter than this (a short database password, a port) are hidden where they stand as a word of
their own, not inside longer words: ``pw`` is hidden in ``postgresql://ann:pw@db`` but not in ``pwd``."""


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # a lone surrogate is a byte the environment held


_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})

_ENCODERS: tuple[Callable[[str], str], ...] = (
    lambda text: json.dumps(text)[1:-1],  # \u00e9, \ud83d\ude00, \" and \\
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1],  # only \" \\ and control characters
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1].replace("/", "\\/"),  # encoders that escape /
    lambda text: repr(text)[1:-1],  # tracebacks, config errors, %r in log lines
    lambda text: ascii(text)[1:-1],  # \xe9, \u20ac, \U0001f600
    lambda text: repr(_utf8(text))[2:-1],  # bytes: \xc3\xa9
    lambda text: quote(_utf8(text), safe=""),  # %2F; safe="/" leaves / as it is: the raw form
    lambda text: quote_plus(_utf8(text), safe=""),  # a space as +
    lambda text: _utf8(text).decode("latin-1"),  # UTF-8 read as Latin-1 (raw request paths)
    lambda text: "".join(f"\\u{unit:04x}" for unit in _utf16(text)),  # JSON lets any character be \u-escaped
    lambda text: "".join(f"%{byte:02x}" for byte in _utf8(text)),  # and a URL any byte percent-encoded
    html.escape,  # HTML: &amp; &lt; &gt; &quot; &#x27;
    lambda text: text.translate(_MARKUP),  # Jinja's autoescape (markupsafe): &#34; &#39;
    lambda text: unicodedata.normalize("NFD", text),  # é as e and its accent: macOS file names, some APIs
)


def _utf16(text: str) -> list[int]:
    data = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[index : index + 2], "big") for index in range(0, len(data), 2)]


@cache
def _forms(unit: str) -> frozenset[str]:
    """``unit`` as every encoder gives it, and as each encoder gives each of those."""
    forms = {unit}
    for _ in range(2):  # text is often encoded twice: a JSON answer of a repr(), a URL in a JSON answer
        forms |= {encode(form) for form in forms for encode in _ENCODERS}
    if unit == "'":
        forms |= {"\\'", "\\\\'"}  # repr() of text that has both quotes in it
    return frozenset(forms)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@cache
def _unit_pattern(unit: str) -> str:
    """Every form of ``unit``: its escapes (``%``, ``\\``) in any case, then the forms that are text as it
    is; each group a trie of its forms (see :func:`_node_pattern`), the longest tried first, never half an
    escape. A flat list of the forms, each spelt out, made a pattern of ~180 characters per character of a
    secret: 40 secrets took 0.17 s to compile at every command's first output."""
    forms = _forms(unit)
    escaped = {form.translate(_ASCII_LOWER) for form in forms if form != unit and ("%" in form or "\\" in form)}
    plain = [form for form in forms if form == unit or not ("%" in form or "\\" in form)]
    groups = [f"(?i:{_forms_pattern(escaped)})" if escaped else "", _forms_pattern(plain)]
    alternatives = [group for group in groups if group]
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def _forms_pattern(forms: Iterable[str]) -> str:
    """One pattern of ``forms`` sharing their starts (a trie of their characters)."""
    root = _Node()
    for form in forms:
        root.insert(list(form))
    return _node_pattern(root, "", re.escape)


def _units(value: str) -> list[str]:
    """The characters of ``value``, a run of backslashes as one: every backslash of a run is encoded alike,
    and matching each on its own (``\\``, ``\\\\``, ``\\\\\\\\``) would try each mix of forms in turn."""
    return re.findall(r"\\+|.", value, re.DOTALL)


_WORD_START = r"(?:(?<![^\W_])|(?<=%[0-9A-Fa-f]{2})|(?<=\\u[0-9A-Fa-f]{4})|(?<=\\x[0-9A-Fa-f]{2})|(?<=\\[abfnrtv0]))"
"""Where a word may start in encoded text: after a character that is no letter or digit, or after an
escape (``%3A``, ``\\u003a``, ``\\n``), whose last character would otherwise look like part of the word."""
_WORD_END = r"(?![^\W_])"


LONG_SECRET = 256
"""Values longer than this (tokens an OAuth2 server hands out, a key file) are found as whole texts, each of
their forms by plain search: a pattern of every character's forms for a token of a megabyte took minutes to
compile, at 100 % CPU, and every token fetched made the next compile longer."""


def secret_pattern(value: str) -> str:
    """A regular expression that finds ``value`` in any of its forms (see the module's docstring), its
    base64 forms included (an API that echoes the key it was sent, encoded)."""
    body = "".join(_unit_pattern(unit) for unit in _units(value))
    pattern = f"{_WORD_START}{body}{_WORD_END}" if len(value) < WHOLE_WORD_BELOW else body
    encoded = sorted(_base64_forms(value), key=len, reverse=True)
    return "|".join([pattern, *map(re.escape, encoded)]) if encoded else pattern


def _alternation(values: list[str]) -> str:
    """One pattern that finds each of ``values`` as :func:`secret_pattern` does, its values' characters
    shared where they start alike (a trie): at a place no value starts, each distinct first character is
    tried once, not each value (300 tokens alike took 13 s to scrub 2 MB), and where two values start alike
    the longer is tried first, so a value inside another never wins."""
    tree = _Node()
    small = _Node()
    for value in values:
        (small if len(value) < WHOLE_WORD_BELOW else tree).insert(_units(value))
    encoded = _Node()
    for form in {form for value in values for form in _base64_forms(value)}:
        encoded.insert(list(form))
    branches = [
        _node_pattern(tree, "", _unit_pattern) if tree.children else "",
        f"{_WORD_START}{_node_pattern(small, _WORD_END, _unit_pattern)}" if small.children else "",
        _node_pattern(encoded, "", re.escape) if encoded.children else "",
    ]
    return "|".join(branch for branch in branches if branch)


class _Node:
    """A place in a trie of values' characters (backslash runs as one, see :func:`_units`)."""

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.ends = False
        self.depth = 0
        """The most characters still to come below it: the longest values are tried first."""

    def insert(self, units: list[str]) -> None:
        node = self
        node.depth = max(node.depth, len(units))
        for index, unit in enumerate(units):
            node = node.children.setdefault(unit, _Node())
            node.depth = max(node.depth, len(units) - index - 1)
        node.ends = True


def _node_pattern(root: _Node, end: str, unit_pattern: Callable[[str], str]) -> str:
    """What follows ``root``: each child's character (as ``unit_pattern`` finds it) and what follows it, the
    deepest first, then ``end`` (a value's end) where a value ends there. Built without recursion: a value
    has up to :data:`LONG_SECRET` characters, its base64 a third more."""
    done: dict[int, str] = {}
    stack: list[tuple[_Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        children = sorted(node.children.items(), key=lambda item: -item[1].depth)
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for _, child in children)
            continue
        alternatives = [unit_pattern(unit) + done[id(child)] for unit, child in children]
        if node.ends:
            alternatives.append(end)
        if len(alternatives) == 1:
            done[id(node)] = alternatives[0]
        else:
            done[id(node)] = f"(?:{'|'.join(alternatives)})"
    return done[id(root)]


def _base64_forms(value: str) -> set[str]:
    """``value`` in base64, standard and URL-safe, with and without padding (none for a short value: its
    base64 would be a few letters any base64 text may hold)."""
    if len(value) < WHOLE_WORD_BELOW:
        return set()
    data = _utf8(value)
    forms = {base64.b64encode(data).decode("ascii"), base64.urlsafe_b64encode(data).decode("ascii")}
    return forms | {form.rstrip("=") for form in forms}


def _long_forms(value: str) -> set[str]:
    """A long value as each encoder gives it whole (once: twice would hold megabytes of forms), in either
    case of hex, and in base64."""
    forms = {value} | {encode(value) for encode in _ENCODERS}
    forms |= {_lower_hex(form) for form in forms if "%" in form} | {form.upper() for form in forms if "%" in form}
    return forms | _base64_forms(value)


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)


def _first_characters(values: list[str]) -> str:
    """A character class of every character a match can start with: a quick test at each position of a
    long text before the alternation of every value is tried there."""
    forms = {form for value in values for form in (*_forms(_units(value)[0]), *_base64_forms(value))}
    firsts = {form[0] for form in forms} | {form[0].swapcase() for form in forms if form != form[0]}  # (?i:…)
    return "[" + "".join(re.escape(char) for char in sorted(firsts)) + "]"


CUT_SEEN = 8
"""The fewest characters of a secret's start, cut off by ``...`` or ``…`` (or the text's end), that are hidden:
a message that shortens a long value (``cannot convert 'SECRETPART...``) cut it before the scrub could find
it whole, and showed its first 56 characters."""


_CUT_MARKS = ("...", "\u2026", "\\u2026")
"""How a shortened text shows its cut: three dots, an ellipsis, an ellipsis JSON-escaped."""


def _cut_forms(value: str) -> set[str]:
    """The forms a cut-off start of ``value`` is shown in: as it is, quoted by ``repr()`` or JSON."""
    if len(value) <= CUT_SEEN:
        return set()
    return {value, repr(value)[1:-1], json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _hide_cut_starts(text: str, forms: list[str]) -> str:
    """``text`` with each start of one of ``forms`` (:data:`CUT_SEEN` characters or more) that runs into a
    cut (``...``, ``…`` or the end of the text) replaced by ``***``."""
    for form in forms:
        head = form[:CUT_SEEN]
        at = text.find(head)
        while at >= 0:
            seen = len(os.path.commonprefix([text[at : at + len(form)], form]))  # noqa: RUF071 (characters, not paths)
            end = at + seen
            if end == len(text) or text.startswith(_CUT_MARKS, end):
                text = text[:at] + REDACTED + text[end:]
                at = text.find(head, at + len(REDACTED))
            else:
                at = text.find(head, at + 1)
    return text


_KEPT_AS_IS = re.compile(r"[A-Za-z0-9_.~-]+")
"""Characters that no encoder Brygga knows of changes unless it encodes every character (JSON's ``\\u0061``,
a URL's ``%61``): letters, digits and a URL's unreserved marks."""


def _telltales(value: str) -> list[str]:
    """Texts at least one of which is in any text that holds ``value`` in a form without escapes: its longest
    run of :data:`_KEPT_AS_IS` characters (which every such form keeps as it is), and its base64 forms."""
    runs = _KEPT_AS_IS.findall(value)
    return [max(runs, key=len) if runs else "", *{form.rstrip("=") for form in _base64_forms(value)}]


class _Scrub(NamedTuple):
    """What scrubbing takes, made once for a set of values (see :meth:`SecretValues.redact`)."""

    short: list[str]
    """The values of up to :data:`LONG_SECRET` characters, the longest first."""
    telltales: list[str]
    long_forms: list[str]
    cut_forms: list[str]


class SecretValues:
    """A set of secret strings and a fast way to scrub them from text.

    Safe to share between threads: log records are scrubbed in whichever thread logs them.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._scrub: _Scrub | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Remember ``value`` as secret (values under :data:`MIN_SECRET_LENGTH` characters are not)."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = self._scrub = None

    def discard(self, value: str) -> None:
        """Forget ``value``: a token that was replaced, which would otherwise make every later scrub longer."""
        with self._lock:
            if value in self._values:
                self._values.discard(value)
                self._pattern = self._scrub = None

    def update(self, other: SecretValues) -> None:
        for value in other:
            self.add(value)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._values))

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret value, in any of its forms, replaced by ``***``.

        The pattern of every form is tried only on a text that may hold one: a text with an escape in it
        (``%``, a backslash), or holding a value's telltale (:func:`_telltales`). Most texts (a record's
        values as the log keeps them, a line of a run's counts) hold neither, and cost a few ``in`` tests:
        the pattern tried at every letter of them cost 15 µs a record with 10 values, 120 µs with 100 (a
        run's record log, 100,000 records: 1.5 to 12 s), and compiling it 0.1 s or more.
        """
        if not self._values:
            return text
        scrub = self._made()
        for form in scrub.long_forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if scrub.short and ("%" in text or "\\" in text or any(telltale in text for telltale in scrub.telltales)):
            text = self._short_pattern(scrub).sub(REDACTED, text)
        return _hide_cut_starts(text, scrub.cut_forms)

    def _made(self) -> _Scrub:
        """The values sorted, the longer ones' forms, the cut starts' forms and the telltales, longest first;
        made again only after the set has changed."""
        with self._lock:
            if self._scrub is None:
                values = sorted(self._values, key=lambda value: (-len(value), value))
                short = [value for value in values if len(value) <= LONG_SECRET]
                forms = {form for value in values if len(value) > LONG_SECRET for form in _long_forms(value)}
                cut = {form for value in values for form in _cut_forms(value)}
                telltales = {telltale for value in short for telltale in _telltales(value)}
                self._scrub = _Scrub(
                    short,
                    sorted(telltales, key=len, reverse=True),
                    sorted(forms, key=len, reverse=True),
                    sorted(cut, key=len, reverse=True),
                )
                self._pattern = None
            return self._scrub

    def _short_pattern(self, scrub: _Scrub) -> re.Pattern[str]:
        """One alternation of every value of up to :data:`LONG_SECRET` characters, the longest first (a value
        inside another must not win), compiled the first time a text may hold one."""
        with self._lock:
            if self._pattern is None or self._scrub is not scrub:
                pattern = re.compile(f"(?={_first_characters(scrub.short)})(?:{_alternation(scrub.short)})")
                if self._scrub is not scrub:
                    return pattern  # the set changed meanwhile: this text is scrubbed of the values it was given
                self._pattern = pattern
            return self._pattern


_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
"""What every log record has; anything else on one came with ``extra=`` (facts a log format may show)."""


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secret values from every record it passes: its message (arguments
    merged in), its traceback, its stack, and the text among the facts it carries (``extra=``: a run's
    error, which the JSON log format shows as a field of its own)."""

    def __init__(self, secrets: SecretValues) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: show both, as logging would
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.secrets.redact(message), None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, self._scrubbed(value))
        return True

    def _scrubbed(self, value: object) -> object:
        if isinstance(value, str):
            return self.secrets.redact(value)
        if isinstance(value, dict):
            return {key: self._scrubbed(item) for key, item in value.items()}
        if type(value) is list:
            return [self._scrubbed(item) for item in value]
        if type(value) is tuple:
            return tuple(self._scrubbed(item) for item in value)
        return value
