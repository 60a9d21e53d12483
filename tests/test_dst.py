"""DST changes in a real `digestbot run`, its clock set by libfaketime, against the oracle of
test_trigger and against `digestbot next`.

Each process's clock starts 45 seconds before a 2026 offset change of its digests' timezone and
then runs at real speed; it announces each digest's next run and catches up the runs of the hour
before. Fire times are whole minutes, so the answers hold for any start within those 45 seconds
(the log's timestamps, on the process's clock, show that it was).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import FAKETIME_LIB, BotProcess, ConfigWriter, process_env
from cron_oracle import changes, oracle
from fakeslack import FakeSlack

pytestmark = [
    pytest.mark.slow,  # bot processes
    pytest.mark.skipif(
        FAKETIME_LIB is None, reason="libfaketime is not installed (Debian package faketime)"
    ),
]

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham")
CHANGES = ("gap", "repeat")  # the clock jumps forward, or back
SCHEDULES = {
    "every-minute": "* * * * *",
    "quarter-hours": "*/15 * * * *",
    "sevenths": "*/7 * * * *",
    "half-past-each": "30 * * * *",
    "odd-hours": "*/30 */2 * * *",
    "half-past-two": "30 2 * * *",
    "at-one-two-three": "0 1-3 * * *",
    "quarters-one-to-three": "15,45 1-3 * * *",
    "all-of-two": "* 2 * * *",
    "quarter-to-four": "45 3 * * *",
    "sunday-twenties": "*/20 * * * sun",
}
LEAD = timedelta(seconds=45)
CATCH_UP = timedelta(hours=1)  # the default catch_up
NEXT_RUN = re.compile(r"next run digest=(\S+) at=(\S+)")
CATCHING_UP = re.compile(r"catching up digest=(\S+) scheduled=(\S+)")
STAMP = re.compile(r"^(\S+) .*(next run|catching up) digest=", re.MULTILINE)
# How long before a firing the bot's clock starts: time enough to start up, even with other
# tests running beside it.
STARTUP = timedelta(seconds=5)


def announced_at(err: str) -> list[datetime]:
    """When, on the process's clock, it announced next runs and catch-ups."""
    return [datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z") for stamp, _ in STAMP.findall(err)]


def dry_run_env(config: Path, folder: Path) -> dict[str, str]:
    """A dry run with its own database and cache, and no Slack token or port from this shell
    (the module's processes start before each test's environment is cleaned)."""
    env = process_env(
        None,
        config,
        DIGESTBOT_DATABASE_URL=f"sqlite:///{folder / 'state.db'}",
        XDG_CACHE_HOME=str(folder / "cache"),
    )
    return {k: v for k, v in env.items() if not k.startswith("SLACK_") and k != "PORT"}


def config(zone: str, articles: Path, schedules: dict[str, str], **digest: object) -> dict:
    body = {"topics": ["AI"], "channels": ["#ai-news"], **digest}
    return {
        "articles": str(articles),
        "timezone": zone,
        "digests": {name: {**body, "schedule": schedule} for name, schedule in schedules.items()},
    }


def change(zone: str, kind: str) -> datetime:
    """When the zone's clock jumps forward (gap) or back (repeat) in 2026."""
    tz = ZoneInfo(zone)
    for at in changes(zone):
        forward = at.astimezone(tz).utcoffset() > (at - LEAD).astimezone(tz).utcoffset()
        if forward == (kind == "gap"):
            return at
    raise LookupError(f"{zone} has no {kind} in 2026")


def clock_at(zone: str, kind: str) -> datetime:
    return change(zone, kind) - LEAD


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """The stderr of one dry run per zone and change, all started at once."""
    bots = {}
    for zone in ZONES:
        for kind in CHANGES:
            folder = tmp_path_factory.mktemp("dst")
            path = folder / "digestbot.yaml"
            articles = folder / "articles"  # none: catching up prints empty digests, quickly
            articles.mkdir()
            path.write_text(yaml.safe_dump(config(zone, articles, SCHEDULES)), encoding="utf-8")
            env = dry_run_env(path, folder)
            bots[zone, kind] = BotProcess(env, clock_at=clock_at(zone, kind))
    for bot in bots.values():
        # It catches up right after announcing, before SIGTERM is looked at.
        bot.wait_for_line("next run digest=", len(SCHEDULES), timeout=30)
    return {key: bot.stop()[2] for key, bot in bots.items()}


def expected(zone: str, kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """Per the oracle: each digest's next run, and the run to catch up (if any)."""
    tz, now = ZoneInfo(zone), clock_at(zone, kind)
    since = now - CATCH_UP
    upcoming, missed = {}, {}
    for name, schedule in SCHEDULES.items():
        fires = oracle(schedule, tz, since.replace(second=0), now + timedelta(hours=26))
        upcoming[name] = next(t for t in fires if t >= now).astimezone(tz).isoformat()
        if recent := [t for t in fires if since <= t <= now]:
            missed[name] = recent[-1].astimezone(tz).isoformat()
    return upcoming, missed


@pytest.mark.parametrize("kind", CHANGES)
@pytest.mark.parametrize("zone", ZONES)
def test_run_announces_and_catches_up_what_next_says(
    logs: dict[tuple[str, str], str],
    write_config: ConfigWriter,
    articles: Path,
    cli,
    zone: str,
    kind: str,
) -> None:
    """Around a DST change, `run` announces the oracle's next runs (as `next` lists them) and
    catches up the oracle's latest runs, for every kind of schedule."""
    err = logs[zone, kind]
    assert max(announced_at(err)) < clock_at(zone, kind) + LEAD, "started too slowly: " + err
    upcoming, missed = expected(zone, kind)
    assert dict(NEXT_RUN.findall(err)) == upcoming, err
    assert dict(CATCHING_UP.findall(err)) == missed, err
    write_config(config(zone, articles, SCHEDULES))
    as_of = clock_at(zone, kind).isoformat()
    listed = {
        name: cli("next", name, "--as-of", as_of, "--count", "1").out.strip() for name in SCHEDULES
    }
    assert listed == upcoming


def test_bot_posts_the_repeated_hour_and_catches_up_the_hour_before(
    articles: Path, tmp_path: Path
) -> None:
    """Started seconds before 03:00 CEST on 25 October 2026, a `*/15` digest in Berlin catches
    up 02:45 CEST at once and posts the run of 02:00 CET (01:00 UTC), not 03:00 CET."""
    repeat = change("Europe/Berlin", "repeat")
    template = (articles / "000_5d341ca81f4b44a3.txt").read_text()  # news for the second run
    (articles / "more.md").write_text(
        template.replace("ai-chip", "chip-2").replace("smarter", "smarter still")
    )
    path = tmp_path / "digestbot.yaml"
    path.write_text(
        yaml.safe_dump(config("Europe/Berlin", articles, {"q": "*/15 * * * *"}, top=1)),
        encoding="utf-8",
    )
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        env = process_env(fake, path, DIGESTBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'state.db'}")
        bot = BotProcess(env, clock_at=repeat - STARTUP)
        try:
            posted = fake.wait_for_posts(2, timeout=30)
        finally:
            err = bot.stop()[2]
        assert posted, err
        assert max(announced_at(err)) < repeat, "started too slowly: " + err
        runs = [m["metadata"]["event_payload"]["run"] for m in fake.messages_in("ai-news")]
    assert runs == ["q@2026-10-25T00:45:00+00:00", "q@2026-10-25T01:00:00+00:00"]
    assert "next run digest=q at=2026-10-25T02:00:00+01:00" in err
    assert "catching up digest=q scheduled=2026-10-25T02:45:00+02:00" in err
