"""Crontab schedules as APScheduler triggers: weekdays, timezones, DST, and `digestbot next`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from conftest import ConfigWriter

from digestbot.trigger import CrontabTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def times(expression: str, zone, start: datetime, count: int) -> list[datetime]:
    return list(itertools.islice(CrontabTrigger(expression, zone).fire_times(start), count))


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
    assert [t.isoformat() for t in got] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_autumn_repeat_fires_once_at_the_first_occurrence() -> None:
    """02:30 happens twice on 25 October 2026 in Berlin: the digest fires once, at the first."""
    got = times("30 2 * * *", BERLIN, datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2)
    assert [t.isoformat() for t in got] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_hourly_follows_real_time_across_dst() -> None:
    """An hourly schedule skips the hour that does not exist and repeats the one twice."""
    spring = times("30 * * * *", BERLIN, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 3)
    assert [t.isoformat() for t in spring] == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:30:00+02:00",
    ]
    autumn = times("30 * * * *", BERLIN, datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 4)
    assert [t.astimezone(UTC).hour for t in autumn] == [23, 0, 1, 2]


def test_never_firing_schedule() -> None:
    """A schedule that can never fire (30 February) yields no fire time."""
    trigger = CrontabTrigger("0 0 30 2 *", UTC)
    assert trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_latest_fire_time_within_a_window() -> None:
    """latest() finds the most recent fire time, only within the window."""
    trigger = CrontabTrigger("0 9 * * *", UTC)
    now = datetime(2026, 11, 22, 9, 3, tzinfo=UTC)
    assert trigger.latest(now, timedelta(hours=1)) == datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert trigger.latest(now, timedelta(minutes=2)) is None


def test_apscheduler_uses_the_trigger() -> None:
    """A job with the trigger gets its next run time from it inside APScheduler."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(print, CrontabTrigger("0 9 * * 1-5", BERLIN))
        expected = CrontabTrigger("0 9 * * 1-5", BERLIN).get_next_fire_time(None, datetime.now(UTC))
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
