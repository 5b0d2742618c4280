"""``schedule: {cron: ...}`` read as crontab(5) reads it, and turned into APScheduler triggers.

APScheduler's ``CronTrigger.from_crontab`` reads the five fields its own way: it
counts weekdays from Monday (``0`` is Monday, ``7`` an error), so ``1-5`` ran
Tuesday to Saturday and ``0`` on Mondays; and it runs only on days that match
both the day of the month and the weekday, where cron runs on either when both
are given (``0 0 1,15 * 5``: the 1st, the 15th and every Friday). Here the
weekday field is expanded to day names, which both read alike, and a day of the
month with a weekday becomes two triggers, either firing. An expression that
never fires (the 30th of February) is refused: it would be a schedule that
silently never runs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_ITEM = re.compile(r"(?:(?P<all>\*)|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?")

CronFields = dict[str, str]
"""Keyword arguments of APScheduler's ``CronTrigger``: ``minute``, ``hour``, ``day``, ``month``, ``day_of_week``."""


def cron_fields(expression: str) -> list[CronFields]:
    """The triggers' fields whose firings together are ``expression``'s: one set, or two when it gives both a
    day of the month and a weekday (cron then runs on either).

    :raises ValueError: for text that is not five fields, or a weekday field cron does not read
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    days = "*" if weekday == "*" else _weekday_names(weekday)
    common = {"minute": minute, "hour": hour, "month": month}
    if day.startswith("*") or weekday.startswith("*"):  # cron's rule: a field starting with * restricts nothing
        return [{**common, "day": day, "day_of_week": days}]
    return [{**common, "day": day, "day_of_week": "*"}, {**common, "day": "*", "day_of_week": days}]


def _weekday_names(field: str) -> str:
    """Cron's weekday field as APScheduler's day names: 0 and 7 are Sunday, 1 Monday, names as they are."""
    chosen: set[int] = set()
    for item in field.split(","):
        found = _WEEKDAY_ITEM.fullmatch(item)
        if found is None:
            raise ValueError(f"weekday '{item}' is not 0-7, sun-sat, a range of them or */N")
        first, last = (0, 6) if found["all"] else (_weekday(found["first"]), _weekday(found["last"] or found["first"]))
        if found["last"] is None and found["step"] is not None and not found["all"]:
            last = 7  # 1/2: from Monday on, every second day
        if first > last:
            raise ValueError(f"weekday range '{item}' runs backwards: write the earlier day first, such as mon-fri")
        step = int(found["step"] or 1)
        if step == 0:
            raise ValueError(f"weekday '{item}' has a step of 0: write */1 or more")
        chosen |= {number % 7 for number in range(first, last + 1, step)}
    return ",".join(_DAY_NAMES[number] for number in sorted(chosen))


def _weekday(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text.lower() in _DAY_NAMES:
        return _DAY_NAMES.index(text.lower())
    raise ValueError(f"weekday '{text}' is not 0-7 (0 and 7 are Sunday) or sun-sat")


def cron_trigger(expression: str, timezone: tzinfo = UTC) -> BaseTrigger:
    """The APScheduler trigger that fires when cron would run ``expression``.

    :raises ValueError: for an expression cron does not read, or one that never fires
    """
    # APScheduler (and asyncio under it) only for a project that has a cron schedule
    from apscheduler.triggers.combining import OrTrigger  # noqa: PLC0415
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

    triggers = [CronTrigger(**fields, timezone=timezone) for fields in cron_fields(expression)]
    trigger = triggers[0] if len(triggers) == 1 else OrTrigger(triggers)
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=timezone)) is None:
        raise ValueError(
            "it never fires: no month it names has that day (February has 29 days at most; April, June, September"
            " and November 30)"
        )
    return trigger
