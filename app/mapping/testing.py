"""Run a sync's ``tests:``: map each input and compare with what the case expects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from app.config import SyncConfig, SyncTest
from app.errors import MappingError
from app.mapping.compiler import CompiledMapping
from app.mapping.conversions import ConversionError, Converter
from app.mapping.lookups import DictLookups


@dataclass
class CaseResult:
    """One test case's verdict; ``failures`` says, line by line, what differed."""

    sync: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def run_tests(sync: SyncConfig, mapping: CompiledMapping) -> list[CaseResult]:
    """Every test case of ``sync``, run against its compiled ``mapping``."""
    return [_run_case(sync.name, case, mapping) for case in sync.tests]


def _run_case(sync: str, case: SyncTest, mapping: CompiledMapping) -> CaseResult:
    result = CaseResult(sync, case.name)
    error: MappingError | None = None
    mapped: dict[str, Any] | None = None
    try:
        mapped = mapping.apply(case.input, DictLookups(case.lookups))
    except MappingError as exc:
        error = exc
    if case.output is not None:
        result.failures = _check_output(case.output, mapped, error, mapping.types)
    elif case.skip:
        if mapped is not None or error is not None:
            result.failures = [f"expected the record to be skipped, got {_outcome(mapped, error)}"]
    elif case.error is not None and not _error_matches(case.error, error):
        result.failures = [f"expected an error about '{case.error}', got {_outcome(mapped, error)}"]
    return result


def _check_output(
    expected: Mapping[str, Any],
    mapped: dict[str, Any] | None,
    error: MappingError | None,
    types: Mapping[str, Converter],
) -> list[str]:
    if mapped is None:
        return [f"expected a mapped record, got {_outcome(mapped, error)}"]
    failures = []
    for name, wanted in expected.items():
        if name not in mapped:
            failures.append(f"{name}: expected {show(wanted)}, got no such field")
        elif not values_match(wanted, mapped[name], types.get(name)):
            failures.append(f"{name}: expected {show(wanted)}, got {show(mapped[name])}")
    return failures


def _error_matches(wanted: str, error: MappingError | None) -> bool:
    if error is None:
        return False
    # the cause, not the whole message: that also names the sync, which would match anything
    return error.field == wanted or wanted.lower() in error.cause.lower()


def _outcome(mapped: dict[str, Any] | None, error: MappingError | None) -> str:
    if error is not None:
        return f"an error: {error.cause}" + (f" (field {error.field})" if error.field else "")
    if mapped is None:
        return "a skip (where was false)"
    return f"a mapped record: {show(mapped)}"


def values_match(expected: Any, actual: Any, convert: Converter | None = None) -> bool:
    """Whether a test's expected value (as YAML gives it) matches a mapped value, by meaning.

    ``convert`` is the field's ``type:`` conversion: the expected value read through it, as the mapping
    reads the source's, is compared with the mapped value (``"2024-05-01T10:00:07Z"`` is the instant the
    datetime ``10:00:07+00:00`` is, ``"1.50"`` the decimal 1.5, ``7`` the text ``"7"`` of a string field).
    Otherwise equal values match, and so do values whose text is the same (``"2024-03-05"`` and a date;
    ``"12.50"`` and ``Decimal("12.5")``), because a YAML file can not spell every type. Booleans match
    only booleans.
    """
    if convert is not None and _same_once_converted(expected, actual, convert):
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(values_match(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(values_match(e, a) for e, a in zip(expected, actual, strict=True))
    if _is_nan(expected) or _is_nan(actual):  # equal to nothing, itself included: .nan expected never passed
        return _is_nan(expected) and _is_nan(actual)
    if expected == actual:
        return True
    if _is_number(actual) and isinstance(expected, str | int | float):
        return _as_decimal(expected) == _as_decimal(actual)
    if isinstance(actual, datetime) and actual.tzinfo is not None and isinstance(expected, str):
        return _same_instant(expected, actual)
    if isinstance(actual, date) and isinstance(expected, str):
        return actual.isoformat() == expected.strip() or str(actual) == expected.strip()
    if isinstance(actual, str) and _is_number(expected):
        return _as_decimal(actual) == _as_decimal(expected)
    return False


def _same_once_converted(expected: Any, actual: Any, convert: Converter) -> bool:
    try:
        converted = convert(expected)
    except (ConversionError, ValueError, TypeError, OverflowError):
        return False  # not a value of the type: compared as written, and shown as written
    if isinstance(converted, bool) != isinstance(actual, bool):
        return False
    try:
        return bool(converted == actual)
    except TypeError:
        return False


def _same_instant(expected: str, actual: datetime) -> bool:
    """``"…T10:00:07Z"`` and an aware datetime: the same moment, whichever zone each is written in."""
    try:
        moment = datetime.fromisoformat(expected.strip())
    except ValueError:
        return False
    return moment.tzinfo is not None and moment == actual


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_nan(value: Any) -> bool:
    return (isinstance(value, float) and math.isnan(value)) or (isinstance(value, Decimal) and value.is_nan())


def _as_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


SHOWN_TEXT = 200
"""The most characters of one text a report shows: a field of 10 MB was printed in full, at every failure."""
SHOWN_ITEMS = 20
"""The most items of one list or mapping a report shows."""


def show(value: Any) -> str:
    """A value as a test report shows it: text quoted, other types named; long texts and lists cut short,
    saying how long they are."""
    if isinstance(value, str):
        if len(value) <= SHOWN_TEXT:
            return repr(value)
        return f"{value[:SHOWN_TEXT]!r}… ({len(value):,} characters)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return f"{value} (decimal)"
    if isinstance(value, datetime):
        return f"{value.isoformat()} (datetime)"
    if isinstance(value, date):
        return f"{value.isoformat()} (date)"
    if isinstance(value, dict):
        parts = [f"{key}: {show(item)}" for key, item in islice(value.items(), SHOWN_ITEMS)]
        return "{" + ", ".join(parts) + _more(len(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value[:SHOWN_ITEMS]) + _more(len(value)) + "]"
    if isinstance(value, int) and not -_LONGEST < value < _LONGEST:
        return "an integer of more than 4300 digits"  # str() refuses to write one
    return str(value)


_LONGEST = 10**4299


def _more(count: int) -> str:
    return f", … ({count:,} in all)" if count > SHOWN_ITEMS else ""
