"""When digests fire: crontab(5) schedules as APScheduler triggers, with DST done right.

APScheduler 3's own CronTrigger counts day-of-week from Monday and, across DST changes, fires
a 02:30 job twice in autumn and at 03:30 in spring. `CrontabTrigger` instead finds the next
matching wall-clock time (CronTrigger, in a zone without DST) and maps it to a real instant:
- a wall time that does not exist (spring) fires at the first valid moment after it;
- a wall time that happens twice (autumn) fires once, at its first occurrence;
- schedules whose hour is `*` (hourly and finer) follow real time instead, as cron does:
  the skipped hour is skipped and the repeated hour repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from digestbot.crontab import WEEKDAYS, Crontab, parse


class CrontabTrigger(BaseTrigger):
    """A crontab(5) schedule in an IANA timezone."""

    __slots__ = ("crontab", "zone", "_walls")

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.crontab: Crontab = parse(expression)
        self.zone = zone
        self._walls = _wall_triggers(self.crontab)

    def __str__(self) -> str:
        return f"crontab[{self.crontab.expression!r}, {self.zone}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger {self.crontab.expression!r} {self.zone}>"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        wall = _as_wall(now.astimezone(self.zone))
        while True:
            candidate = self._next_wall(wall)
            if candidate is None:
                return None
            for real in self._instants(candidate):
                if real >= now and (previous_fire_time is None or real > previous_fire_time):
                    return real.astimezone(self.zone)
            wall = candidate + timedelta(seconds=1)

    def fire_times(self, after: datetime) -> Iterator[datetime]:
        """Every fire time from `after` on, in the schedule's timezone."""
        previous: datetime | None = None
        while (moment := self.get_next_fire_time(previous, previous or after)) is not None:
            yield moment
            previous = moment

    def latest(self, now: datetime, within: timedelta) -> datetime | None:
        """The most recent fire time at or before `now`, if it lies within `within`."""
        latest = None
        for moment in self.fire_times(now - within):
            if moment > now:
                break
            latest = moment
        return latest

    def _next_wall(self, wall: datetime) -> datetime | None:
        times = [
            t for t in (trigger.get_next_fire_time(None, wall) for trigger in self._walls) if t
        ]
        return min(times, default=None)

    def _instants(self, wall: datetime) -> list[datetime]:
        """The real instants of a wall-clock time: none, one or two."""
        naive = wall.replace(tzinfo=None)
        first = naive.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = naive.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        exists = first.astimezone(self.zone).replace(tzinfo=None) == naive
        real_time = not self.crontab.hours_restricted
        if not exists:
            return [] if real_time else [_gap_end(second, first, self.zone)]
        if first != second and real_time:
            return sorted({first, second})
        return [first]


def _wall_triggers(crontab: Crontab) -> list[CronTrigger]:
    """CronTriggers over wall-clock time (UTC: no DST); two when both day fields are set,
    because crontab(5) then fires when either matches and CronTrigger needs both."""
    fields = {
        "minute": _listed(crontab.minutes),
        "hour": _listed(crontab.hours),
        "month": _listed(crontab.months),
        "timezone": UTC,
    }
    # APScheduler numbers weekdays from Monday, crontab(5) from Sunday: names avoid the question.
    weekdays = ",".join(WEEKDAYS[day] for day in sorted(crontab.weekdays))
    days = _listed(crontab.days)
    if crontab.days_restricted and crontab.weekdays_restricted:
        return [
            CronTrigger(day=days, day_of_week="*", **fields),
            CronTrigger(day="*", day_of_week=weekdays, **fields),
        ]
    return [CronTrigger(day=days, day_of_week=weekdays, **fields)]


def _listed(values: frozenset[int]) -> str:
    return ",".join(str(value) for value in sorted(values))


def _as_wall(local: datetime) -> datetime:
    """A local time's wall clock reading, expressed as a UTC datetime (for CronTrigger)."""
    return local.replace(tzinfo=None).replace(tzinfo=UTC)


def _gap_end(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The instant a DST gap ends: the first valid moment after a skipped wall time."""
    low, high = before, after
    offset = after.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
