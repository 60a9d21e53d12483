"""When digests fire: crontab(5) schedules as APScheduler triggers, with DST done right.

`crontab` parses a schedule; this module turns it into instants. The scheduler gives each digest
a `CrontabTrigger` as its APScheduler trigger and asks `latest()` which run a firing or a
catch-up delivers; `digestbot next` and `status` list `fire_times()`. All three answer from the
same search, so they agree.

Times are wall-clock times in the schedule's timezone, with cron's two rules across DST changes:
- a schedule with a fixed hour fires each matching wall time once: at its first occurrence when
  the clock repeats it (autumn), at the first valid moment after the gap when the clock skips
  it (spring: 02:30 fires at 03:00, and several skipped times fire once, together);
- a schedule whose hour is `*` (or `*/2`...) follows real time: it fires at every instant whose
  wall-clock reading matches, so the skipped hour is skipped and the repeated hour repeats.

APScheduler's own CronTrigger cannot do either: it counts weekdays from Monday, searches forward
in wall time (losing the repeated hour) and looks for an impossible day year after year. Here
wall times are matched day by day, and real time is walked in stretches of one UTC offset.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger

from digestbot.crontab import Crontab, parse

TICK = timedelta(microseconds=1)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
# Offsets are sampled a day apart when looking for the next change: no zone changes its offset
# and back within a day. A day is also more than any stretch of wall time that repeats.
OFFSET_STEP = DAY
# Days repeat with their weekdays every 400 years, so a schedule that `parse` accepts fires
# within this span of any moment.
HORIZON = timedelta(days=146097)


class CrontabTrigger(BaseTrigger):
    """A crontab(5) schedule in an IANA timezone."""

    __slots__ = ("crontab", "zone", "_calendar")

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.crontab: Crontab = parse(expression)
        self.zone = zone
        self._calendar = _Calendar(self.crontab)

    def __str__(self) -> str:
        return f"crontab[{self.crontab.expression!r}, {self.zone}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger {self.crontab.expression!r} {self.zone}>"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # CronTrigger's contract: the first fire time at or after `now`, or, when APScheduler
        # passes the previous one, the first after it (all later ones up to `now` are due too).
        # In UTC: adding to a time in the repeated hour would move it to the first pass.
        if previous_fire_time is None:
            return self._in_zone(self._first(now.astimezone(UTC), None))
        return self._in_zone(self._first(previous_fire_time.astimezone(UTC) + TICK, None))

    def fire_times(self, after: datetime) -> Iterator[datetime]:
        """Every fire time from `after` on, in the schedule's timezone."""
        moment = self._first(after.astimezone(UTC), None)
        while moment is not None:
            yield moment.astimezone(self.zone)
            moment = self._first(moment + TICK, None)

    def latest(self, now: datetime, within: timedelta) -> datetime | None:
        """The most recent fire time at or before `now`, if it lies within `within`."""
        now = now.astimezone(UTC)
        if self._first(now - within, now) is None:
            return None  # the usual answer between fire times, in one search
        # Then windows that double from a minute, and forward to the last: a few searches
        # whether fire times are dense (every minute, a week of catch-up) or far apart.
        span = min(within, MINUTE)
        while (found := self._first(now - span, now)) is None:
            span = min(span * 2, within)
        while (later := self._first(found + TICK, now)) is not None:
            found = later
        return found.astimezone(self.zone)

    def _in_zone(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self.zone) if moment else None

    def _first(self, start: datetime, until: datetime | None) -> datetime | None:
        """The first fire time at or after `start` (UTC), if there is one up to `until`."""
        if self.crontab.hours_restricted:
            return self._first_fixed(start, until)
        return self._first_real(start, until)

    def _first_real(self, start: datetime, until: datetime | None) -> datetime | None:
        """Real time: the first instant from `start` whose wall-clock reading matches."""
        moment = start
        while True:
            offset = self._offset(moment)
            wall = _ceil_minute(_naive(moment + offset))
            limit = _plus(wall, HORIZON) if until is None else _naive(until + offset)
            match = self._calendar.next(wall, limit)
            if match is not None:
                end = match.replace(tzinfo=UTC) - offset
            elif until is not None:
                end = until
            else:
                return None
            # The match holds only if the clock keeps this offset until then; if it changes
            # first, the search starts again from the change, in the new offset.
            change = self._next_change(moment, end, offset)
            if change is None:
                return end if match else None
            moment = change

    def _first_fixed(self, start: datetime, until: datetime | None) -> datetime | None:
        """Fixed hours: the first matching wall time whose first instant is at or after `start`."""
        # From the wall time just before `start`: a time in a gap fires at the gap's end, so
        # it may lie before the reading at `start` (02:30 for a start at 03:00).
        wall = _ceil_minute(self._wall(start - SECOND))
        # Up to `until`, the clock may have read a day more than at `until` (in a repeat).
        limit = _plus(wall, HORIZON) if until is None else _plus(self._wall(until), DAY)
        while (match := self._calendar.next(wall, limit)) is not None:
            moment = self._first_instant(match)
            if moment >= start:
                return moment if until is None or moment <= until else None
            wall = match + MINUTE  # it fired before `start`; its repeat after does not fire
        return None

    def _first_instant(self, wall: datetime) -> datetime:
        """The first instant the clock reads `wall`, or the end of the gap that skips it."""
        earlier, later = sorted(
            wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC) for fold in (0, 1)
        )
        if self._wall(earlier) == wall:
            return earlier
        # In a gap, the instants of the two offsets straddle the change: the gap's end.
        return self._bisect_change(earlier, later, self._offset(earlier))

    def _next_change(self, after: datetime, until: datetime, offset: timedelta) -> datetime | None:
        """The first instant in (after, until] whose UTC offset is not `offset`."""
        low = after
        while low < until:
            high = min(low + OFFSET_STEP, until)
            if self._offset(high) != offset:
                return self._bisect_change(low, high, offset)
            low = high
        return None

    def _bisect_change(self, low: datetime, high: datetime, offset: timedelta) -> datetime:
        while high - low > SECOND:
            middle = low + (high - low) / 2
            if self._offset(middle) == offset:
                low = middle
            else:
                high = middle
        # Offsets change on a whole second, the only one in (low, high].
        return high.replace(microsecond=0)

    def _offset(self, moment: datetime) -> timedelta:
        return moment.astimezone(self.zone).utcoffset() or timedelta(0)

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)


class _Calendar:
    """The wall-clock times a crontab matches, found day by day."""

    def __init__(self, crontab: Crontab) -> None:
        self.crontab = crontab
        self.times = sorted(
            time(hour, minute) for hour in crontab.hours for minute in crontab.minutes
        )

    def next(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first matching wall time at or after `wall` (a whole minute), up to `limit`."""
        day, clock = wall.toordinal(), wall.time()
        while day <= limit.toordinal():
            when = date.fromordinal(day)
            if when.month not in self.crontab.months:
                day += calendar.monthrange(when.year, when.month)[1] - when.day + 1
                clock = time.min
                continue
            index = bisect_left(self.times, clock) if self._matches(when) else len(self.times)
            if index < len(self.times):
                match = datetime.combine(when, self.times[index])
                return match if match <= limit else None
            day, clock = day + 1, time.min
        return None

    def _matches(self, day: date) -> bool:
        crontab = self.crontab
        in_month = day.day in crontab.days
        in_week = day.isoweekday() % 7 in crontab.weekdays  # crontab(5): Sunday is 0
        if crontab.days_restricted and crontab.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _ceil_minute(wall: datetime) -> datetime:
    floor = wall.replace(second=0, microsecond=0)
    return floor if floor == wall else floor + MINUTE


def _plus(wall: datetime, delta: timedelta) -> datetime:
    """`wall + delta`, or the last representable time when that is past year 9999."""
    try:
        return wall + delta
    except OverflowError:
        return datetime.max
