"""Crontab schedules as APScheduler triggers: weekdays, timezones, DST, and `digestbot next`.

Across DST changes the trigger is compared with an oracle written here: a walk through UTC,
minute by minute, that applies the README's rule to what the wall clock reads.
"""

from __future__ import annotations

import functools
import itertools
import time as system_time
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from conftest import ConfigWriter
from cron_oracle import HOUR, MINUTE, changes, oracle

from digestbot.crontab import CrontabError
from digestbot.trigger import CrontabTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # moves by 30 minutes
    "Pacific/Chatham",  # at +12:45 / +13:45
    "Asia/Kolkata",  # at +05:30, no DST
    "UTC",
    "America/Sao_Paulo",  # no DST since 2019
)
EXPRESSIONS = (
    # The hour is `*`: real time.
    "* * * * *",
    "*/15 * * * *",
    "*/7 * * * *",
    "0-59/20 * * * *",
    "0 * * * *",
    "30 * * * *",
    "45 * * * *",
    "10,50 * * * *",
    "@hourly",
    "*/30 */2 * * *",
    "20 */3 * * *",
    "*/10 * * * sun",
    "*/20 * 4,5,25,27 * *",
    # A fixed hour: once per wall time, gap times at the gap's end.
    "30 2 * * *",
    "0 2 * * *",
    "0 3 * * *",
    "45 2 * * *",
    "15 1 * * *",
    "40 1 * * *",
    "0 1-3 * * *",
    "15,45 1-3 * * *",
    "* 2 * * *",
    "*/10 1-3 * * *",
    "5 4 * * *",
    "@daily",
    "30 2 * * sun",
    "30 2 1 * sun",
    "*/20 2,3 4,5,25,26,27 * mon",
    "0,30 2 * * 1-5",
)


def times(expression: str, zone, start: datetime, count: int) -> list[datetime]:
    return list(itertools.islice(CrontabTrigger(expression, zone).fire_times(start), count))


def iso(moments: list[datetime]) -> list[str]:
    return [moment.isoformat() for moment in moments]


def utc(moments: list[datetime]) -> list[datetime]:
    """In UTC: aware times in a repeated hour never compare equal across timezones, and
    adding to them moves them to the first pass."""
    return [moment.astimezone(UTC) for moment in moments]


def window(change: datetime) -> tuple[datetime, datetime]:
    """Where the tests compare: two hours either side of an offset change."""
    return change - 2 * HOUR, change + 2 * HOUR


@functools.cache
def fires_around(expression: str, name: str, change: datetime) -> list[datetime]:
    """The oracle's fire times from an hour before the window to an hour after it."""
    start, end = window(change)
    return oracle(expression, ZoneInfo(name), start - HOUR, end + HOUR)


def between(fires: list[datetime], start: datetime, end: datetime) -> list[datetime]:
    return fires[bisect_left(fires, start) : bisect_right(fires, end)]


def moments_around(change: datetime, fires: list[datetime]) -> list[datetime]:
    """Moments to ask at: a grid over the window, the change, and the fire times near it."""
    start, end = window(change)
    step = timedelta(minutes=11, seconds=13)
    grid = [start + k * step for k in range((end - start) // step)]
    edges = [change + timedelta(seconds=s) for s in (-15, -1, 0, 1)]
    near = [
        f - d
        for f in between(fires, change - 10 * MINUTE, change + 10 * MINUTE)
        for d in (TICK, timedelta(0))
    ]
    return sorted({*grid, *edges, *near})


def scheduler_run_times(
    trigger: CrontabTrigger, start: datetime, end: datetime, lateness: timedelta
) -> list[datetime]:
    """The run times APScheduler gets from the trigger when it wakes `lateness` after each."""
    run_times: list[datetime] = []
    next_run = trigger.get_next_fire_time(None, start)
    while next_run is not None and next_run <= end:
        now = next_run.astimezone(UTC) + lateness  # not in the zone: see utc()
        due = []
        while next_run is not None and next_run <= now:  # Job._get_run_times
            due.append(next_run)
            next_run = trigger.get_next_fire_time(next_run, now)
        run_times += due
        next_run = trigger.get_next_fire_time(due[-1], now)  # BaseScheduler._process_jobs
    return [moment for moment in run_times if moment <= end]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("name", ZONES)
def test_fire_times_follow_the_rule_across_dst(name: str, expression: str) -> None:
    """fire_times() lists exactly the oracle's fire times around both 2026 DST changes."""
    zone = ZoneInfo(name)
    trigger = CrontabTrigger(expression, zone)
    for change in changes(name):
        start, end = window(change)
        expected = between(fires_around(expression, name, change), start, end)
        got = itertools.takewhile(lambda t, end=end: t <= end, trigger.fire_times(start))
        assert iso(list(got)) == iso([t.astimezone(zone) for t in expected]), change


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("name", ZONES)
def test_next_and_latest_at_any_moment_across_dst(name: str, expression: str) -> None:
    """get_next_fire_time(None, now) and latest(now, window) agree with the oracle at any now."""
    zone = ZoneInfo(name)
    trigger = CrontabTrigger(expression, zone)
    for change in changes(name):
        fires = fires_around(expression, name, change)
        for now in moments_around(change, fires):
            upcoming = fires[bisect_left(fires, now) :][:1]
            got = trigger.get_next_fire_time(None, now)
            assert utc([got]) == upcoming if upcoming else got > window(change)[1] + HOUR, now
            for within in (HOUR + MINUTE, 15 * MINUTE):
                recent = between(fires, now - within, now)[-1:]
                latest = trigger.latest(now, within)
                assert utc([latest] if latest else []) == recent, (now, within)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_apscheduler_gets_every_run_time(expression: str) -> None:
    """APScheduler's loop (next = get_next_fire_time(previous, now)) sees every fire time once,
    whether it wakes on time or late."""
    for name in ("Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham"):
        trigger = CrontabTrigger(expression, ZoneInfo(name))
        for change, lateness in itertools.product(changes(name), (timedelta(0), 7.5 * MINUTE)):
            start, end = window(change)
            got = scheduler_run_times(trigger, start, end, lateness)
            expected = between(fires_around(expression, name, change), start, end)
            assert utc(got) == expected, (name, change, lateness)


def test_next_command_lists_both_passes_of_the_repeated_hour(
    write_config: ConfigWriter, cli
) -> None:
    """`digestbot next` for `*/15` in Berlin lists 02:45 CEST, then 02:00, 02:15 CET (the issue)."""
    write_config(
        "articles: .\ntimezone: Europe/Berlin\ndigests:\n  q:\n    topics: [AI]\n"
        "    channels: [a]\n    schedule: '*/15 * * * *'\n"
    )
    result = cli("next", "q", "--as-of", "2026-10-25T02:20:00+02:00", "--count", "7")
    assert result.out.split() == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:15:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:45:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_repeated_hour_is_next_and_the_hour_before_is_caught_up() -> None:
    """At 02:59:45 CEST, `*/15` runs next at 02:00 CET and its latest run was 02:45 CEST."""
    trigger = CrontabTrigger("*/15 * * * *", BERLIN)
    now = datetime(2026, 10, 25, 0, 59, 45, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now).isoformat() == "2026-10-25T02:00:00+01:00"
    assert trigger.latest(now, HOUR).isoformat() == "2026-10-25T02:45:00+02:00"
    later = datetime(2026, 10, 25, 1, 5, tzinfo=UTC)
    assert trigger.latest(later, HOUR).isoformat() == "2026-10-25T02:00:00+01:00"


def test_weekdays_mean_monday_to_friday_unlike_from_crontab() -> None:
    """`0 8 * * 1-5` fires Monday to Friday; APScheduler's from_crontab would say Tue-Sat."""
    start = datetime(2026, 11, 22, tzinfo=UTC)  # a Sunday
    ours = [t.strftime("%a") for t in times("0 8 * * 1-5", UTC, start, 7)]
    assert ours == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon", "Tue"]
    trap = CronTrigger.from_crontab("0 8 * * 1-5", timezone=UTC)
    first = trap.get_next_fire_time(None, start)
    assert first.strftime("%a") == "Tue"  # the trap this module exists to avoid


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("0 9 * * 0", ["Sun", "Sun"]),
        ("0 9 * * 7", ["Sun", "Sun"]),
        ("0 9 * * sat,sun", ["Sat", "Sun"]),
    ],
)
def test_sunday_is_zero_and_seven(expression: str, days: list[str]) -> None:
    """Day-of-week 0 and 7 are Sunday; names work."""
    start = datetime(2026, 11, 20, tzinfo=UTC)
    assert [t.strftime("%a") for t in times(expression, UTC, start, 2)] == days


def test_day_of_month_or_day_of_week() -> None:
    """With both day fields restricted, crontab(5) fires when either matches."""
    got = times("0 9 1 * mon", UTC, datetime(2026, 11, 22, tzinfo=UTC), 4)
    assert [t.strftime("%a %d") for t in got] == ["Mon 23", "Mon 30", "Tue 01", "Mon 07"]


def test_wall_clock_in_the_digest_timezone() -> None:
    """`0 9 * * 1-5` in Europe/Berlin is 09:00 local on weekdays, whatever the offset."""
    got = times("0 9 * * 1-5", BERLIN, datetime(2026, 10, 22, tzinfo=UTC), 6)
    assert all(t.hour == 9 and t.minute == 0 and t.weekday() < 5 for t in got)
    assert [t.utcoffset() for t in got] == [timedelta(hours=2)] * 2 + [timedelta(hours=1)] * 4


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_daily_fires_once_per_local_day_across_both_dst_changes(zone: ZoneInfo) -> None:
    """`30 2 * * *` fires exactly once on every local day of the year, DST days included."""
    start = datetime(2026, 1, 1, tzinfo=zone)
    got = times("30 2 * * *", zone, start, 365)
    days = [t.astimezone(zone).date() for t in got]
    assert len(set(days)) == 365 and days[0].isoformat() == "2026-01-01"
    assert all(b - a >= timedelta(hours=22) for a, b in itertools.pairwise(got))


def test_spring_gap_fires_at_the_first_valid_moment() -> None:
    """02:30 does not exist on 29 March 2026 in Berlin: the digest fires at 03:00 CEST."""
    got = times("30 2 * * *", BERLIN, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 2)
    assert iso(got) == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_gap_times_firing_together_fire_once() -> None:
    """02:00, 02:30 and 03:00 all fire at 03:00 CEST on 29 March 2026: once."""
    got = times("0,30 2,3 * * *", BERLIN, datetime(2026, 3, 29, 0, tzinfo=UTC), 3)
    assert iso(got) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:00:00+02:00",
    ]


def test_autumn_repeat_fires_once_at_the_first_occurrence() -> None:
    """02:30 happens twice on 25 October 2026 in Berlin: the digest fires once, at the first."""
    got = times("30 2 * * *", BERLIN, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2)
    assert iso(got) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_hourly_follows_real_time_across_dst() -> None:
    """An hourly schedule skips the hour that does not exist and repeats the one twice."""
    spring = times("30 * * * *", BERLIN, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 3)
    assert iso(spring) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:30:00+02:00",
    ]
    autumn = times("30 * * * *", BERLIN, datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 4)
    assert [t.astimezone(UTC).hour for t in autumn] == [23, 0, 1, 2]


def test_never_firing_schedule_is_refused() -> None:
    """A schedule that can never fire (30 February) is not a trigger."""
    with pytest.raises(CrontabError, match="never fires"):
        CrontabTrigger("0 0 30 2 *", UTC)


def test_latest_fire_time_within_a_window() -> None:
    """latest() finds the most recent fire time, only within the window."""
    trigger = CrontabTrigger("0 9 * * *", UTC)
    now = datetime(2026, 11, 22, 9, 3, tzinfo=UTC)
    assert trigger.latest(now, HOUR) == datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert trigger.latest(now, timedelta(minutes=2)) is None
    assert trigger.latest(now, timedelta(days=3)) == datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_apscheduler_uses_the_trigger() -> None:
    """A job with the trigger gets its next run time from it inside APScheduler."""
    now = datetime.now(BERLIN)
    day = now.date() if now.time() < time(9) else now.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    expected = datetime.combine(day, time(9), tzinfo=BERLIN)  # next weekday 09:00 in Berlin
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(print, CrontabTrigger("0 9 * * 1-5", BERLIN))
        assert job.next_run_time == expected
    finally:
        scheduler.shutdown(wait=False)


def test_next_command_lists_weekday_mornings_in_berlin(write_config: ConfigWriter, cli) -> None:
    """`digestbot next` prints ISO 8601 times with offsets, only weekdays at 09:00 local."""
    write_config(
        "articles: .\ndigests:\n  ai:\n    topics: [AI]\n    channels: [a]\n"
        "    schedule: '0 9 * * 1-5'\n    timezone: Europe/Berlin\n"
    )
    result = cli("next", "ai", "--count", "10", "--as-of", "2026-10-22T00:00+00:00")
    lines = result.out.split()
    assert len(lines) == 10
    assert lines[:4] == [
        "2026-10-22T09:00:00+02:00",
        "2026-10-23T09:00:00+02:00",
        "2026-10-26T09:00:00+01:00",
        "2026-10-27T09:00:00+01:00",
    ]
    for line in lines:
        moment = datetime.fromisoformat(line)
        assert moment.weekday() < 5 and moment.hour == 9


def test_next_for_a_digest_without_schedule(write_config: ConfigWriter, cli) -> None:
    """A digest without a schedule says it is sent by hand only."""
    write_config()
    result = cli("next", "ai-daily")
    assert result.code == 1 and "only sent by hand" in result.err


@pytest.mark.parametrize("expression", ["0 9 * * *", "0 * * * *", "*/5 * * * *"])
def test_latest_includes_a_fire_time_equal_to_now(expression: str) -> None:
    """A job that fires exactly on time delivers that very run: latest(09:00) is 09:00."""
    trigger = CrontabTrigger(expression, BERLIN)
    nine = datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)
    assert trigger.latest(nine, MINUTE) == nine
    assert trigger.latest(nine - TICK, MINUTE) is None
    assert trigger.latest(nine, timedelta(0)) == nine


def test_no_fire_time_after_the_end_of_the_calendar() -> None:
    """Past the last fire time before year 10000 there is none: None, and the listing ends."""
    trigger = CrontabTrigger("0 0 1 1 *", BERLIN)
    last = datetime(9999, 1, 1, tzinfo=BERLIN)
    assert list(trigger.fire_times(datetime(9998, 6, 1, tzinfo=UTC))) == [last]
    assert trigger.get_next_fire_time(None, datetime(9999, 6, 1, tzinfo=UTC)) is None
    assert trigger.get_next_fire_time(last, last) is None


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch):
    """Set this process's local timezone (TZ) for one test; restored afterwards."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        system_time.tzset()

    yield use
    monkeypatch.undo()
    system_time.tzset()


def test_fire_times_do_not_depend_on_the_machine_timezone(local_zone) -> None:
    """The same schedule gives the same instants whether the host runs in UTC or in a zone
    with its own DST (all the arithmetic happens in UTC and the schedule's zone)."""
    start = datetime(2026, 3, 28, 20, tzinfo=UTC)
    now = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)

    def answers() -> list[object]:
        found: list[object] = []
        for expression in ("30 2 * * *", "*/20 * * * *", "0 3 * * 0"):
            trigger = CrontabTrigger(expression, BERLIN)
            found += utc(list(itertools.islice(trigger.fire_times(start), 6)))
            found += [trigger.get_next_fire_time(None, now), trigger.latest(now, HOUR)]
            previous = trigger.get_next_fire_time(None, start)
            found.append(trigger.get_next_fire_time(previous, previous))
        return [moment.astimezone(UTC) if moment else None for moment in found]

    local_zone("UTC")
    expected = answers()
    for name in ("Pacific/Chatham", "America/New_York", "Europe/Berlin"):
        local_zone(name)
        assert answers() == expected, name
