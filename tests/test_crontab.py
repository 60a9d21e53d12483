"""Crontab(5) parsing: fields, names, Sunday as 0 and 7, clear errors, schedules that never fire."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import ConfigWriter

from digestbot.crontab import CrontabError, describe, parse
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
        ("0 9 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("   ", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
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


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "@reboot",
            "@reboot is not supported: give the times to run at (catch_up delivers a run missed "
            "while the bot was down)",
        ),
        (
            "@often",
            "'@often' is not a macro; use one of @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight, @hourly",
        ),
        ("5/15 * * * *", "'5/15': a step needs a range or '*' in the minute"),
        ("0 0 30,31 2 *", "never fires: no day 30,31 in feb"),
        ("0 0 31 4,6 *", "never fires: no day 31 in apr, jun"),
    ],
)
def test_error_messages_in_full(expression: str, message: str) -> None:
    """Macros, steps without a range and impossible days are explained in full sentences."""
    with pytest.raises(CrontabError) as caught:
        parse(expression)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 9 * * 1-5", "at 09:00, Monday to Friday"),
        ("30 8,12 * * *", "at 08:30 and 12:30, every day"),
        ("0 9,10,11 * * 1,2,3,5", "at 09:00, 10:00 and 11:00, Monday to Wednesday and Friday"),
        ("0 9 * * 0,6", "at 09:00, Sunday and Saturday"),
        ("0 9 * * 1,2,4,5", "at 09:00, Monday, Tuesday, Thursday and Friday"),
        ("* * * * *", "every minute, every day"),
        ("*/15 * * * *", "every 15 minutes, every day"),
        ("15 * * * *", "every hour at :15, every day"),
        ("5,35 */2 * * *", "every 2 hours at :05 and :35, every day"),
        ("*/20 */3 * * *", "every 20 minutes, every 3 hours, every day"),
        ("5-59/30 * * * *", "every hour at :05 and :35, every day"),
        ("0 0-6 * * *", "every hour at :00, in the hours 00, 01, 02, 03, 04, 05 and 06, every day"),
        (
            "0 1-23/2 * * *",
            "every hour at :00, in the hours 01, 03, 05, 07, 09, 11, 13, 15, 17, 19, 21 and 23, "
            "every day",
        ),
        (
            "*/10 9-17 * * 1-5",
            "every 10 minutes, in the hours 09, 10, 11, 12, 13, 14, 15, 16 "
            "and 17, Monday to Friday",
        ),
        ("0 9 1 * mon", "at 09:00, on day 1 of the month or Monday"),
        ("0 9 1,15 jan,jul *", "at 09:00, on day 1 and 15 of the month, in January and July"),
        ("0 9 * 12 *", "at 09:00, every day, in December"),
        ("0 0 1 1 *", "at 00:00, on day 1 of the month, in January"),
    ],
)
def test_describe_says_a_schedule_in_words(expression: str, words: str) -> None:
    """A schedule in words: a few fixed times listed, others as a rule; days, months."""
    assert describe(parse(expression)) == words


def test_describe_lists_up_to_six_fixed_times() -> None:
    """Six fixed times are listed; a seventh makes it a rule."""
    assert describe(parse("0 1-6 * * *")) == (
        "at 01:00, 02:00, 03:00, 04:00, 05:00 and 06:00, every day"
    )
    assert describe(parse("0 1-7 * * *")) == (
        "every hour at :00, in the hours 01, 02, 03, 04, 05, 06 and 07, every day"
    )


def test_describe_two_evenly_spaced_minutes_as_a_step() -> None:
    """`0,30` minutes every hour read as every 30 minutes; `0,45` as two times an hour."""
    assert describe(parse("0,30 * * * *")) == "every 30 minutes, every day"
    assert describe(parse("0,45 * * * *")) == "every hour at :00 and :45, every day"
    assert describe(parse("0 0,12 * * *")) == "at 00:00 and 12:00, every day"
    assert describe(parse("*/30 0,12 * * *")) == "at 00:00, 00:30, 12:00 and 12:30, every day"
    assert describe(parse("* 0,12 * * *")) == "every minute, every 12 hours, every day"


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("*/7 * * * *", "every hour at :00, :07, :14, :21, :28, :35, :42, :49 and :56, every day"),
        ("0 */5 * * *", "every hour at :00, in the hours 00, 05, 10, 15 and 20, every day"),
        ("*/12 * * * *", "every 12 minutes, every day"),
    ],
)
def test_a_step_that_does_not_divide_the_hour_or_day_is_listed(expression: str, words: str) -> None:
    """`*/7` minutes are 7 minutes apart but only 4 from :56 to :00: not "every 7 minutes"."""
    assert describe(parse(expression)) == words
