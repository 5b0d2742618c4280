"""How much of a second a timestamp or time column keeps, and whether a value fits it.

PostgreSQL's ``timestamp(0)`` rounds ``12:00:00.7`` to ``12:00:01``, and
MariaDB's ``DATETIME`` (no fractional digits unless declared ``DATETIME(6)``)
cuts it to ``12:00:00``, both without a word: a value changed on its way in.
A value with more digits of a second than its column keeps fails its record
instead, as a decimal the column would round does.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect

MICROSECOND_DIGITS = 6
"""The digits of a second Python's datetimes, times and durations hold."""


def fraction_kept(type_: sqltypes.TypeEngine[Any], dialect: Dialect) -> int | None:
    """The digits of a second a reflected timestamp or time column keeps, where fewer than Python holds;
    ``None`` where it keeps every microsecond (SQLite keeps the text it is given)."""
    if dialect.name == "postgresql":
        digits = getattr(type_, "precision", None)  # None: PostgreSQL's default, microseconds
    elif dialect.name in ("mysql", "mariadb"):
        digits = getattr(type_, "fsp", None) or 0  # None: MariaDB/MySQL's default, whole seconds
    else:
        return None
    return digits if isinstance(digits, int) and 0 <= digits < MICROSECOND_DIGITS else None


def fits_fraction(value: datetime | time | timedelta, digits: int) -> bool:
    """Whether ``value`` has no more than ``digits`` digits of a second."""
    micro = value.microseconds if isinstance(value, timedelta) else value.microsecond
    step: int = 10 ** (MICROSECOND_DIGITS - digits)
    return micro % step == 0


def cut_to(moment: datetime, digits: int) -> datetime:
    """``moment`` with no more than ``digits`` digits of a second: for a time Brygga makes itself (a soft
    delete's), where none of the source's values is changed."""
    step: int = 10 ** (MICROSECOND_DIGITS - digits)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % step)


def too_fine(shown: str, digits: int, type_name: str, *, timestamp: bool) -> str:
    """Why a value with more digits of a second than its column keeps fails, and what to do."""
    kept = "whole seconds" if digits == 0 else f"{digits} digit{'s' if digits > 1 else ''} of a second"
    how = ' (transform: ["date:%Y-%m-%dT%H:%M:%S%z"] keeps whole seconds)' if timestamp else ""
    wider = "timestamp(6) or DATETIME(6)" if timestamp else "time(6) or TIME(6)"
    return (
        f"{shown} has more digits of a second than the column keeps ({kept}): the database would round or cut "
        f"it; drop them in the mapping{how}, or give the column more precision than {type_name} ({wider})"
    )
