"""Scrubbing secret values from text in every form they take when printed (SPEC 2).

A table: each shape of secret × each form an encoder gives it (raw, JSON with and
without ``ensure_ascii``, ``repr``/``ascii``, percent-encoding with ``quote`` and
``quote_plus``, either case of hex, httpx's own URLs, HTML as the dashboard's pages
escape it, and two encodings in turn).
"""

from __future__ import annotations

import ast
import base64
import html
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import quote, quote_plus, unquote

import httpx
import markupsafe
import pytest

from app.config import SecretValues
from app.config.secrets import RedactingFilter

SHAPES = {
    "plain": "s3cr3tTokenValue9",
    "backslashes": "a\\b\\\\c-token-1234",
    "quotes": "q\"uo'te-token-12",
    "slash plus percent": "s/l+a%sh%2Fed-tok",
    "spaces": "my api key value",
    "non-ASCII": "lösenord-€-tok-😀",
    "control characters": "tab\tnew\nline-tok",
    "NUL": "nul\x00in-the-middle",
    "lone surrogate": "bad\udcffbyte-token",  # a byte of the environment that is not UTF-8
    "all at once": "A\\\"b c/d+e%f'g-é\x01😀",
}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "JSON": json.dumps,
    "JSON without ensure_ascii": lambda s: json.dumps(s, ensure_ascii=False),
    "JSON with escaped slashes": lambda s: json.dumps(s, ensure_ascii=False).replace("/", "\\/"),
    "repr": repr,
    "ascii": ascii,
    "repr of bytes": lambda s: repr(_utf8(s)),
    "quote": lambda s: quote(_utf8(s), safe=""),
    "quote with safe /": lambda s: quote(_utf8(s)),
    "quote_plus": lambda s: quote_plus(_utf8(s)),
    "quote_plus with safe /": lambda s: quote_plus(_utf8(s), safe="/"),
    "lower-case hex": lambda s: _lower_hex(quote(_utf8(s), safe="")),
    "httpx path": lambda s: str(httpx.URL("http://h/api/").join(quote(_utf8(s), safe="/%\\+"))),
    "httpx query": lambda s: str(httpx.URL("http://h/", params={"api_key": s})),
    "Latin-1 reading of UTF-8": lambda s: _utf8(s).decode("latin-1"),
    "JSON of repr": lambda s: json.dumps(repr(s)),
    "repr of JSON": lambda s: repr(json.dumps(s)),
    "JSON of quote": lambda s: json.dumps(quote(_utf8(s))),
    "JSON of JSON": lambda s: json.dumps(json.dumps(s)),
    "quote of JSON": lambda s: quote(json.dumps(s), safe=""),
    "every character \\u-escaped": lambda s: "".join(
        f"\\u{ord(c):04X}" if ord(c) < 0x10000 else json.dumps(c)[1:-1] for c in s
    ),
    "every byte percent-encoded": lambda s: "".join(f"%{byte:02x}" for byte in _utf8(s)),
    "base64": lambda s: base64.b64encode(_utf8(s)).decode(),
    "URL-safe base64 without padding": lambda s: base64.urlsafe_b64encode(_utf8(s)).decode().rstrip("="),
    "NFD": lambda s: unicodedata.normalize("NFD", s),
    "HTML": html.escape,
    "Jinja's autoescape": lambda s: str(markupsafe.escape(s)),
    "Jinja's autoescape of JSON": lambda s: str(markupsafe.escape(json.dumps(s))),
}


def _secrets(*values: str) -> SecretValues:
    secrets = SecretValues()
    for value in values:
        secrets.add(value)
    return secrets


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_every_form_of_every_shape_is_scrubbed(secret: str, form: Callable[[str], str]) -> None:
    try:
        shown = form(secret)
    except UnicodeEncodeError:
        pytest.skip("this encoder refuses a lone surrogate: the secret never takes this form")
    text = f"before {shown} after"

    scrubbed = _secrets(secret).redact(text)

    assert "***" in scrubbed
    assert scrubbed.startswith("before ") and scrubbed.endswith(" after"), scrubbed
    for residue in (shown, secret, quote(_utf8(secret), safe=""), "token", "tok-", "api key", "lösen"):
        assert residue not in scrubbed, scrubbed


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_scrubbed_text_still_parses_as_what_it_was(secret: str) -> None:
    """An escape is replaced whole, never half of it: JSON stays JSON, a repr a repr, a URL a URL."""
    secrets = _secrets(secret)

    for ensure_ascii in (True, False):
        answer = json.dumps({"error": f"x {secret} y", "n": 1}, ensure_ascii=ensure_ascii)
        assert json.loads(secrets.redact(answer)) == {"error": "x *** y", "n": 1}
    assert ast.literal_eval(secrets.redact(repr(f"x {secret} y"))) == "x *** y"
    assert unquote(secrets.redact(quote(_utf8(f"x {secret} y"), safe=""))) == "x *** y"


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest() -> None:
    secrets = _secrets("abcdefgh12", "abcdefgh12345678")

    assert secrets.redact("a abcdefgh12345678 b abcdefgh12 c") == "a *** b *** c"


def test_secrets_that_start_alike_are_each_scrubbed_whole_in_every_form() -> None:
    """Values are matched along their shared starts (a trie): the longest one that is there wins, in any
    form, short values among them, and so do their base64 forms."""
    values = ["tok-1234-alpha", "tok-1234-alphabet", "tok-1299-x-ray", "tok1", "tok1-and-more"]
    secrets = _secrets(*values)
    for value in values:
        for form in (value, json.dumps(value), quote(value, safe=""), repr(value.encode()), f"x {value} y"):
            assert value not in secrets.redact(form) and "***" in secrets.redact(form), form
        if len(value) >= 8:
            encoded = base64.b64encode(value.encode()).decode()
            assert secrets.redact(f"[{encoded}]") == "[***]"
    assert secrets.redact("tok-1234-alphabetical") == "***ical"
    assert secrets.redact("tok-1234-alph!") == "tok-1234-alph!"  # no cut: no secret
    assert secrets.redact("tok1 tok12 tok1-and-more!") == "*** tok12 ***!"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("postgresql://ann:pw42@db/erp", "postgresql://ann:***@db/erp"),
        ("pw42", "***"),
        ("pw42pw42 pw42x upw42 pw42_1 4pw42", "pw42pw42 pw42x upw42 ***_1 4pw42"),
        ("user%3Apw42%40db", "user%3A***%40db"),
        ('"line\\npw42\\u0040"', '"line\\n***\\u0040"'),
        ("'\\x00pw42'", "'\\x00***'"),
    ],
)
def test_a_short_secret_is_scrubbed_where_it_stands_as_a_word(text: str, scrubbed: str) -> None:
    assert _secrets("pw42").redact(text) == scrubbed


def test_a_short_secret_inside_an_escape_is_left_so_the_escape_still_parses() -> None:
    secrets = _secrets("00e9")

    assert json.loads(secrets.redact(json.dumps("é 00e9"))) == "é ***"


def test_a_value_of_under_four_characters_is_not_a_secret() -> None:
    secrets = _secrets("", "5", "erp")

    assert len(secrets) == 0
    assert secrets.redact("read 5, created 5 in systems.erp") == "read 5, created 5 in systems.erp"


def test_a_secret_added_later_is_scrubbed_too() -> None:
    secrets = _secrets("first-secret-value")
    assert secrets.redact("first-secret-value second-secret-value") == "*** second-secret-value"

    secrets.add("second-secret-value")

    assert secrets.redact("first-secret-value second-secret-value") == "*** ***"


def test_many_secrets_in_a_long_text() -> None:
    values = [f"tok{n:04d}-{n * 7919:x}-secret" for n in range(300)] + ["pw42", "a\\b\\c-backslashes"]
    secrets = _secrets(*values)
    filler = "ordinary words, \\\\ %25 \\u00e9 and numbers 1234; " * 20_000
    text = values[0] + filler + json.dumps(values[150]) + filler + quote(values[-1], safe="") + " pw42"

    scrubbed = secrets.redact(text)

    assert scrubbed == "***" + filler + '"***"' + filler + "*** ***"


def test_hostile_text_around_a_secret_of_backslashes_takes_no_exponential_time() -> None:
    """Each backslash has forms of one, two and four backslashes: tried one by one, a run of them in a
    secret would try every mix against a text of backslashes. A run is matched as one."""
    secrets = _secrets("x" + "\\" * 24 + "y")

    assert secrets.redact(("x" + "\\" * 80) * 200 + "x" + "\\" * 48 + "y") == ("x" + "\\" * 80) * 200 + "***"


def test_text_that_is_no_valid_unicode_is_scrubbed_without_failing() -> None:
    secrets = _secrets("secret-value-9")

    assert secrets.redact("\udcff\x00secret-value-9\ud800") == "\udcff\x00***\ud800"
    assert secrets.redact("") == ""


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("brygga.test", logging.ERROR, __file__, 1, message, args, info)


def test_the_log_filter_scrubs_message_arguments_traceback_and_stack() -> None:
    secret = 'quo"te\\secret'
    try:
        raise ValueError(f"cannot use {secret!r}")
    except ValueError as exc:
        record = _record("failed: %s %r %d", secret, secret, 3, exc=exc)
    record.stack_info = f"stack {secret!r}"

    assert RedactingFilter(_secrets(secret)).filter(record)

    shown = logging.Formatter().format(record)
    assert "failed: *** '***' 3" in shown
    assert "ValueError: cannot use '***'" in shown
    assert "stack '***'" in shown
    assert 'quo"te' not in shown and "te\\secret" not in shown


def test_the_log_filter_shows_a_record_whose_arguments_do_not_fit() -> None:
    record = _record("%d items", "my-secret-value")

    assert RedactingFilter(_secrets("my-secret-value")).filter(record)

    assert record.getMessage() == "%d items ('***',)"


def test_the_log_filter_scrubs_the_facts_a_record_carries() -> None:
    """A run's line carries its error as a fact of its own, which the JSON log format shows as a field."""
    secret = "my-secret-value"
    record = _record("run finished")
    facts = {"error": f"cannot reach http://u:{secret}@db", "counts": {"read": 1}, "notes": [secret]}
    record.__dict__.update(fields=facts, color_message=f"run {secret}")  # as logging's extra= puts them

    assert RedactingFilter(_secrets(secret)).filter(record)

    assert record.__dict__["fields"] == {
        "error": "cannot reach http://u:***@db",
        "counts": {"read": 1},
        "notes": ["***"],
    }
    assert record.__dict__["color_message"] == "run ***"
    assert (record.levelno, record.lineno, record.args) == (logging.ERROR, 1, None)


@pytest.mark.timeout(30)
def test_a_token_of_a_megabyte_is_scrubbed_in_its_forms_at_once() -> None:
    """Every character's forms, for a 1 MB token, made a pattern that took minutes to compile at 100 % CPU."""
    token = "eyJ" + "a1B2-c3_D4" * 100_000
    secrets = _secrets(token)
    text = " ".join(
        ["raw", token, "pct", quote(token, safe=""), "b64", base64.b64encode(token.encode()).decode(), "end"]
    )

    assert secrets.redact(text) == "raw *** pct *** b64 *** end"


def test_a_discarded_value_is_no_longer_scrubbed_and_costs_nothing() -> None:
    """A token replaced by a fresh one is forgotten: kept, every token fetched made each scrub longer."""
    secrets = _secrets("first-token-1234", "second-token-5678")
    secrets.discard("first-token-1234")
    secrets.discard("never-added-0000")

    assert secrets.redact("first-token-1234 second-token-5678") == "first-token-1234 ***"
    assert list(secrets) == ["second-token-5678"]


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("cannot convert 'SECRETPART-SECRETPART-SECRE... to integer", "cannot convert '***... to integer"),
        ("cut at an ellipsis: SECRETPART-SEC\u2026 and on", "cut at an ellipsis: ***\u2026 and on"),
        ('{"detail": "SECRETPART-SE\\u2026"}', '{"detail": "***\\u2026"}'),
        ("cut at the end of the text: SECRETPART", "cut at the end of the text: ***"),
        ("too short a start to tell: SECRETP...", "too short a start to tell: SECRETP..."),
        ("not cut, only alike: SECRETPART-x...", "not cut, only alike: SECRETPART-x..."),
        ("SECRETPART-SECRETPART- whole: " + "SECRETPART-" * 3, "SECRETPART-SECRETPART- whole: ***"),
    ],
)
def test_the_start_of_a_secret_that_a_message_cut_off_is_scrubbed(text: str, scrubbed: str) -> None:
    secrets = SecretValues()
    secrets.add("SECRETPART-" * 3)

    assert secrets.redact(text) == scrubbed


def test_a_text_that_can_hold_no_secret_is_passed_without_the_pattern_being_made() -> None:
    """The pattern of every form of every value is made (0.1 s and more for a few dozen values) and tried
    (15 µs a record's logged values with ten values) only on a text that may hold one: with an escape in it,
    or a value's telltale. A run's line of counts, a record's values, holds neither."""
    secrets = _secrets(*(f"token-{n:02d}-{n * 7919:x}-s3cr3t" for n in range(40)))
    plain = ["customers: succeeded in 0.3s (run 2)", '{"id": 7, "name": "Åsa Öberg", "city": "Malmö"}']

    assert [secrets.redact(text) for text in plain] == plain
    assert secrets._pattern is None

    assert secrets.redact(f"a URL: https://x/?k={7 * 7919:x}-token-07-{7 * 7919:x}-s3cr3t%21").endswith("-***%21")
    assert secrets._pattern is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("!@#$^&*()=+[]{}", "only marks, no letter to tell it by: !@#$^&*()=+[]{} (and no escape)"),
        ("ab!cd@ef#gh$ij", "its longest run of letters is two: ab!cd@ef#gh$ij"),
        ("a secret with spaces", "a form with no escape, spaces as plus: a+secret+with+spaces"),
        ("base64-only-secret", "sent encoded: " + base64.b64encode(b"base64-only-secret").decode().rstrip("=")),
    ],
)
def test_a_value_in_a_form_without_escapes_is_scrubbed_whatever_it_is_made_of(value: str, text: str) -> None:
    secrets = _secrets(value)

    assert "***" in secrets.redact(text)
    assert value not in secrets.redact(text)
