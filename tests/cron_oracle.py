"""The README's scheduling rule, written independently of `digestbot.trigger`: a walk through
UTC, minute by minute, applying the rule to what the wall clock reads. Tests compare the
trigger, `digestbot next` and a running bot with it."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from digestbot.crontab import Crontab, parse

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@functools.cache
def changes(name: str) -> tuple[datetime, ...]:
    """The instants the zone's offset changes in 2026; for a zone without DST, two ordinary ones."""
    zone = ZoneInfo(name)
    found = []
    for hour in range(365 * 24):
        moment = datetime(2026, 1, 1, tzinfo=UTC) + hour * HOUR
        if offset(zone, moment) != offset(zone, moment + HOUR):
            found += [
                moment + k * MINUTE
                for k in range(1, 61)
                if offset(zone, moment + k * MINUTE) != offset(zone, moment + (k - 1) * MINUTE)
            ]
    return tuple(found) or (
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    )


def offset(zone: ZoneInfo, moment: datetime) -> timedelta | None:
    return moment.astimezone(zone).utcoffset()


def matches(spec: Crontab, wall: datetime) -> bool:
    """Whether a wall-clock reading matches the schedule's fields (crontab(5)'s day rule)."""
    in_month = wall.day in spec.days
    in_week = wall.isoweekday() % 7 in spec.weekdays
    either = spec.days_restricted and spec.weekdays_restricted
    day = (in_month or in_week) if either else (in_month and in_week)
    return (
        day
        and wall.month in spec.months
        and wall.hour in spec.hours
        and wall.minute in spec.minutes
    )


def oracle(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Fire times in [start, end] (whole UTC minutes) by the README's rule.

    Hour `*`: every minute whose wall-clock reading matches. Fixed hour: a matching reading the
    clock shows for the first time, and, where the clock jumps forward, the matching readings it
    skips, at the first minute after the jump. The walk starts 3 hours early, so that readings
    shown before a repeat are known.
    """
    spec = parse(expression)
    shown: set[datetime] = set()
    fires = []
    moment = start - 3 * HOUR
    previous = (moment - MINUTE).astimezone(zone).replace(tzinfo=None)
    while moment <= end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        if spec.hours_restricted:
            skipped = [previous + k * MINUTE for k in range(1, (wall - previous) // MINUTE)]
            due = (matches(spec, wall) and wall not in shown) or any(
                matches(spec, gap) for gap in skipped
            )
            shown.add(wall)
        else:
            due = matches(spec, wall)
        if due and moment >= start:
            fires.append(moment)
        previous = wall
        moment += MINUTE
    return fires
