"""Crontab(5) expressions, parsed and checked without a scheduler.

The config validates schedules with this module; `trigger` turns a parsed `Crontab` into an
APScheduler trigger. Day-of-week follows crontab(5): 0 and 7 are Sunday, names work, and when both
day fields are restricted a day matches when either does. A schedule that can never fire (30
February) is an error here, so that a trigger never searches for a day that does not come.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Days in each month, February in a leap year: a schedule for 29 February does fire.
_LONGEST_MONTHS = tuple(calendar.monthrange(2000, month)[1] for month in range(1, 13))
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day of week", 0, 7, WEEKDAYS, 0),
)


@dataclass(frozen=True)
class Crontab:
    """A parsed schedule: the allowed values of each field (weekdays 0 = Sunday .. 6)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool
    hours_restricted: bool


class CrontabError(ValueError):
    """The expression is not valid crontab(5)."""


def parse(expression: str) -> Crontab:
    """Parse a 5-field crontab expression (or an @daily-style macro)."""
    text = " ".join(expression.split())
    if text.startswith("@") and text.lower() not in MACROS:
        raise CrontabError(_macro_problem(text))
    fields = MACROS.get(text.lower(), text).split()
    if len(fields) != 5:
        raise CrontabError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    values = [_parse_field(raw, spec) for raw, spec in zip(fields, _FIELDS, strict=True)]
    days_restricted = not fields[2].startswith("*")
    weekdays_restricted = not fields[4].startswith("*")
    # Only a day of month that must match (no day of week to fall back on) can make it never fire.
    if days_restricted and not weekdays_restricted:
        _check_days_exist(values[2], values[3])
    return Crontab(
        expression=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=frozenset(day % 7 for day in values[4]),
        days_restricted=days_restricted,
        weekdays_restricted=weekdays_restricted,
        hours_restricted=not fields[1].startswith("*"),
    )


def _macro_problem(text: str) -> str:
    if text.lower() == "@reboot":
        return (
            "@reboot is not supported: give the times to run at "
            "(catch_up delivers a run missed while the bot was down)"
        )
    return f"{text!r} is not a macro; use one of {', '.join(MACROS)}"


def _check_days_exist(days: frozenset[int], months: frozenset[int]) -> None:
    if any(day <= _LONGEST_MONTHS[month - 1] for day in days for month in months):
        return
    listed_days = ",".join(str(day) for day in sorted(days))
    listed_months = ", ".join(MONTHS[month - 1] for month in sorted(months))
    raise CrontabError(f"never fires: no day {listed_days} in {listed_months}")


def _parse_field(raw: str, spec: _Field) -> frozenset[int]:
    allowed: set[int] = set()
    for item in raw.split(","):
        allowed.update(_parse_item(item, spec))
    return frozenset(allowed)


def _parse_item(item: str, spec: _Field) -> range:
    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CrontabError(f"{step_text!r} is not a step for the {spec.name}")
        step = int(step_text)
    if span == "*":
        return range(spec.low, spec.high + 1, step)
    if span.count("-") > 1:
        raise CrontabError(f"{item!r} is not a valid {spec.name}: a range is low-high")
    first, dash, last = span.partition("-")
    low = _value(first, spec)
    high = _value(last, spec) if dash else (low if not step_text else None)
    if high is None:
        raise CrontabError(f"{item!r}: a step needs a range or '*' in the {spec.name}")
    if high < low:
        raise CrontabError(f"{item!r}: the range runs backwards in the {spec.name}")
    return range(low, high + 1, step)


def _value(text: str, spec: _Field) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.name_base
    if not text.isdigit():
        raise CrontabError(f"{text!r} is not a valid {spec.name}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise CrontabError(f"{value} is out of range for the {spec.name} ({spec.low}-{spec.high})")
    return value


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
_FEW_TIMES = 6  # more fixed times than this read better as a rule than as a list


def describe(crontab: Crontab) -> str:
    """The schedule in words, for people: "at 09:00, Monday to Friday"."""
    parts = [_times(crontab), _days(crontab)]
    if len(crontab.months) < 12:
        parts.append("in " + _listing([_MONTH_NAMES[m - 1] for m in sorted(crontab.months)]))
    return ", ".join(part for part in parts if part)


def _times(crontab: Crontab) -> str:
    minutes, hours = sorted(crontab.minutes), sorted(crontab.hours)
    if crontab.hours_restricted and len(minutes) * len(hours) <= _FEW_TIMES:
        return "at " + _listing([f"{h:02d}:{m:02d}" for h in hours for m in minutes])
    if len(minutes) == 60:
        within = "every minute"
    elif (step := _step(minutes, 60)) is not None:
        within = f"every {step} minutes"
    else:
        within = "every hour at " + _listing([f":{m:02d}" for m in minutes])
    if len(hours) == 24:
        return within
    if (step := _step(hours, 24)) is not None:
        if within.startswith("every hour at "):
            return f"every {step} hours at {within.removeprefix('every hour at ')}"
        return f"{within}, every {step} hours"
    return f"{within}, in the hours " + _listing([f"{h:02d}" for h in hours])


def _days(crontab: Crontab) -> str:
    weekdays = _weekdays(sorted(crontab.weekdays)) if crontab.weekdays_restricted else ""
    days = ""
    if crontab.days_restricted:
        days = "on day " + _listing([str(d) for d in sorted(crontab.days)]) + " of the month"
    if days and weekdays:
        return f"{days} or {weekdays}"
    return days or weekdays or "every day"


def _weekdays(days: list[int]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    named = [
        f"{_DAY_NAMES[run[0]]} to {_DAY_NAMES[run[-1]]}" if len(run) > 2 else None for run in runs
    ]
    words = []
    for run, name in zip(runs, named, strict=True):
        words += [name] if name else [_DAY_NAMES[day] for day in run]
    return _listing(words)


def _step(values: list[int], span: int) -> int | None:
    """The step of values that run 0, s, 2s, ... evenly round the whole span (else None: `0,45`
    minutes are 45 then 15 minutes apart, not "every 45 minutes")."""
    if len(values) < 2 or values[0] != 0:
        return None
    step = values[1]
    return step if span % step == 0 and values == list(range(0, span, step)) else None


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
