"""Crontab(5) parsing: fields, names, Sunday as 0 and 7, clear errors, schedules that never fire."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import ConfigWriter

from digestbot.crontab import CrontabError, parse
from digestbot.trigger import CrontabTrigger


@pytest.mark.parametrize(
    ("expression", "weekdays"),
    [
        ("0 9 * * 1-5", {1, 2, 3, 4, 5}),
        ("0 9 * * mon-fri", {1, 2, 3, 4, 5}),
        ("0 9 * * 0", {0}),
        ("0 9 * * 7", {0}),
        ("0 9 * * 5-7", {5, 6, 0}),
        ("0 9 * * SUN,sat", {0, 6}),
        ("0 9 * * */2", {0, 2, 4, 6}),
        ("0 9 * * *", {0, 1, 2, 3, 4, 5, 6}),
    ],
)
def test_day_of_week_follows_crontab(expression: str, weekdays: set[int]) -> None:
    """Day-of-week numbers and names mean what crontab(5) says (0 = Sunday)."""
    assert parse(expression).weekdays == weekdays


def test_fields_steps_and_lists() -> None:
    """Minutes, hours, days and months expand lists, ranges and steps."""
    spec = parse("*/15 8-10,14 1,15 jan-mar *")
    assert spec.minutes == {0, 15, 30, 45}
    assert spec.hours == {8, 9, 10, 14}
    assert spec.days == {1, 15}
    assert spec.months == {1, 2, 3}
    assert spec.days_restricted and not spec.weekdays_restricted and spec.hours_restricted


def test_macros() -> None:
    """@daily and friends are the 5-field expressions they stand for."""
    assert replace(parse("@daily"), expression="") == replace(parse("0 0 * * *"), expression="")
    assert parse("@hourly").hours == set(range(24))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 9 * *", "expected 5 fields"),
        ("61 9 * * *", "61 is out of range for the minute (0-59)"),
        ("0 24 * * *", "24 is out of range for the hour (0-23)"),
        ("0 9 0 * *", "0 is out of range for the day of month"),
        ("0 9 * * 8", "8 is out of range for the day of week"),
        ("0 9 * * funday", "'funday' is not a valid day of week"),
        ("0 9 * * 5-1", "runs backwards"),
        ("*/0 9 * * *", "not a step"),
        ("1-2-3 9 * * *", "'1-2-3' is not a valid minute"),
        ("@reboot", "@reboot is not supported"),
        ("@often", "'@often' is not a macro"),
        ("0 0 30 2 *", "never fires: no day 30 in feb"),
        ("* * 31 4 *", "never fires: no day 31 in apr"),
        ("0 0 31 2,4,6 */2", "never fires: no day 31 in feb, apr, jun"),
    ],
)
def test_errors_say_what_is_wrong(expression: str, message: str) -> None:
    """An invalid expression raises CrontabError with a message a person can act on."""
    with pytest.raises(CrontabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)


@pytest.mark.parametrize(
    "expression", ["0 0 29 2 *", "0 0 31 4 mon", "0 0 30 2 mon", "0 0 31 * *", "0 0 * 2 mon"]
)
def test_schedules_that_fire_somewhere_are_valid(expression: str) -> None:
    """29 February, and 31 April or 30 February along with a weekday (either matches), do fire."""
    assert parse(expression).expression == expression


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 0 30 2 *", "digests.ai.schedule: '0 0 30 2 *': never fires: no day 30 in feb"),
        ("* * 31 4 *", "digests.ai.schedule: '* * 31 4 *': never fires: no day 31 in apr"),
        ("@reboot", "digests.ai.schedule: '@reboot': @reboot is not supported"),
        ("1-2-3 * * * *", "digests.ai.schedule: '1-2-3 * * * *': '1-2-3' is not a valid minute"),
    ],
)
def test_check_names_the_key_of_a_bad_schedule(
    write_config: ConfigWriter, cli, schedule: str, message: str
) -> None:
    """`digestbot check` reports a schedule that never fires or cannot be read, with its key."""
    write_config(
        {
            "articles": ".",
            "digests": {"ai": {"topics": ["AI"], "channels": ["#a"], "schedule": schedule}},
        }
    )
    result = cli("check")
    assert result.code != 0 and message in result.err


def test_impossible_day_of_month_with_a_weekday_fires_on_the_weekday() -> None:
    """`0 9 31 2 mon` fires on Mondays in February, 31 February never coming."""
    trigger = CrontabTrigger("0 9 31 2 mon", ZoneInfo("Europe/Berlin"))
    got = itertools.islice(trigger.fire_times(datetime(2026, 3, 1, tzinfo=UTC)), 6)
    assert [t.isoformat() for t in got] == [
        "2027-02-01T09:00:00+01:00",
        "2027-02-08T09:00:00+01:00",
        "2027-02-15T09:00:00+01:00",
        "2027-02-22T09:00:00+01:00",
        "2028-02-07T09:00:00+01:00",
        "2028-02-14T09:00:00+01:00",
    ]
