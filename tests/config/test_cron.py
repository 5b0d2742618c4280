"""``schedule: {cron: ...}`` fires when crontab(5) would: weekdays counted from Sunday, either day field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import load_project
from app.engine.scheduling import trigger_of
from tests.conftest import ProjectWriter

MONDAY = datetime(2024, 1, 1, tzinfo=UTC)


def fire_days(write_project: ProjectWriter, cron: str, days: int = 14) -> list[str]:
    """The days in the two weeks from Monday 1 January 2024 that the sync's schedule fires on, as 'Mon 01'."""
    sync = f"source: crm.contacts\ntarget: erp.customers\nfields: {{customer_no: id}}\nschedule: {{cron: '{cron}'}}\n"
    project = load_project(write_project({"mappings/a.yaml": sync}), {})
    trigger = trigger_of(project.syncs["a"])
    assert trigger is not None
    fired: list[str] = []
    moment = trigger.get_next_fire_time(None, MONDAY)
    while moment is not None and moment < MONDAY + timedelta(days=days):
        fired.append(moment.strftime("%a %d"))
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return fired


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        pytest.param("0 9 * * 1-5", ["Mon 01", "Tue 02", "Wed 03", "Thu 04", "Fri 05"], id="1-5-is-monday-to-friday"),
        pytest.param("0 9 * * 0", ["Sun 07"], id="0-is-sunday"),
        pytest.param("0 9 * * 7", ["Sun 07"], id="7-is-sunday-too"),
        pytest.param("0 9 * * 5-7", ["Fri 05", "Sat 06", "Sun 07"], id="a-range-to-7"),
        pytest.param("0 9 * * 6,0", ["Sat 06", "Sun 07"], id="a-list"),
        pytest.param("0 9 * * */2", ["Tue 02", "Thu 04", "Sat 06", "Sun 07"], id="every-second-day-from-sunday"),
        pytest.param("0 9 * * MON-wed", ["Mon 01", "Tue 02", "Wed 03"], id="names-in-any-case"),
        pytest.param("0 9 3 * 5", ["Wed 03", "Fri 05"], id="a-day-of-the-month-or-a-weekday"),
        pytest.param("0 9 */3 * 0", ["Sun 07"], id="a-day-field-starting-with-a-star-restricts-with-the-weekday"),
    ],
)
def test_a_cron_schedule_fires_on_the_days_crontab_names(
    write_project: ProjectWriter, cron: str, expected: list[str]
) -> None:
    assert fire_days(write_project, cron, days=7) == expected
