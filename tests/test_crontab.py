"""Crontab(5) parsing: fields, names, Sunday as 0 and 7, and clear errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digestbot.crontab import CrontabError, parse


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
    ],
)
def test_errors_say_what_is_wrong(expression: str, message: str) -> None:
    """An invalid expression raises CrontabError with a message a person can act on."""
    with pytest.raises(CrontabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)
