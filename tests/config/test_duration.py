"""Durations: ``500ms``, ``30s``, ``5m``, ``1h30m``, or a number of seconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.config import parse_duration
from app.config.base import format_duration


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 5m ", timedelta(minutes=5)),
        ("1.5h", timedelta(minutes=90)),
        ("30", timedelta(seconds=30)),
        (" 2.5 ", timedelta(seconds=2.5)),
        ("0s", timedelta(0)),
        (45, timedelta(seconds=45)),
        (0.25, timedelta(milliseconds=250)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_durations_parse(value: Any, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "5 minutes",
            "'5 minutes' is not a duration: write a number with a unit, such as 500ms, 30s, 5m, 2h, 1d or 1h30m",
        ),
        ("", "'' is not a duration"),
        ("m", "'m' is not a duration"),
        ("5x", "'5x' is not a duration"),
        ("-5s", "'-5s' is not a duration"),
        ("5m and more", "'5m and more' is not a duration"),
        (-5, "a duration cannot be negative"),
        (True, "expected a duration: write a number with a unit"),
        ([5], "expected a duration: write a number with a unit"),
        (None, "expected a duration: write a number with a unit"),
    ],
)
def test_bad_durations_say_how_to_write_one(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)

    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=14), "2w"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=90), "90s"),
    ],
)
def test_durations_format_back_to_text_that_parses(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value
