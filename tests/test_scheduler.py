"""`digestbot run`: firing, catch-up, live config, clean stops and replicas on PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from conftest import (
    POSTGRES_URL,
    BotProcess,
    ConfigWriter,
    FakeClock,
    digest_config,
    process_env,
)
from fakeslack import FakeSlack

from digestbot import bot, scheduler
from digestbot.config import load_settings

pytestmark = pytest.mark.slow  # bot processes

# A Monday, three and a half minutes after the 09:00 run of `digest_config`'s daily schedule.
MONDAY = datetime(2026, 3, 2, 9, 3, 30, tzinfo=UTC)
# How long before a firing a real process's clock starts: time enough to start up, even with
# other tests running beside it.
STARTUP = timedelta(seconds=5)

StartBot = Callable[[], bot.Bot]


def minutes_ago(minutes: int) -> str:
    """A daily schedule whose last run was `minutes` ago, by the real clock."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return f"{moment.minute} {moment.hour} * * *"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY)


@pytest.fixture
def start_bot(slack: FakeSlack, clock: FakeClock) -> Iterator[StartBot]:
    """Build and start bots from the environment on the test's clock; stop them at the end."""
    bots: list[bot.Bot] = []

    def start() -> bot.Bot:
        running = bot.build(load_settings(), printer=lambda plans: None, clock=clock)
        bots.append(running)
        running.start()
        return running

    yield start
    for running in bots:
        running.shutdown()


def test_firing_delivers_the_latest_scheduled_run_once(
    start_bot: StartBot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """Firing twice for the same scheduled time (a retry, a second job) posts the run once."""
    write_config(digest_config(articles, schedule="* * * * *", catch_up="1s"))
    running = start_bot()
    running.scheduler.fire("ai")
    running.scheduler.fire("ai")
    [message] = slack.messages_in("ai-news")
    assert message["metadata"]["event_payload"]["run"] == "ai@2026-03-02T09:03:00+00:00"


def test_catch_up_posts_once_and_not_again_after_restart(
    start_bot: StartBot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """A run whose time passed 3 minutes before start is delivered at start, once."""
    write_config(digest_config(articles, catch_up="1h"))
    first = start_bot()
    assert slack.wait_for_posts(1, timeout=10)
    first.shutdown()
    restarted = start_bot()
    assert restarted.scheduler.missed() == []
    [message] = slack.messages_in("ai-news")
    assert message["metadata"]["event_payload"]["run"] == "ai@2026-03-02T09:00:00+00:00"


def test_catch_up_window_is_respected(
    start_bot: StartBot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """A run older than its catch_up window is not delivered late."""
    write_config(digest_config(articles, catch_up="2m"))
    running = start_bot()
    assert running.scheduler.missed() == []
    assert running.scheduler.next_runs()[0][1] > datetime.now(UTC)  # not due at once
    assert slack.posts == []


def test_live_config_edit_changes_the_next_digest(
    start_bot: StartBot,
    slack: FakeSlack,
    write_config: ConfigWriter,
    articles: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new topic and channel in the config apply to the next firing, without a restart."""
    caplog.set_level(logging.INFO)
    robots = (articles / "000_5d341ca81f4b44a3.txt").read_text()
    robots = robots.replace("  - AI\n", "  - Robots\n").replace("integrated-ai-chip", "robot")
    (articles / "robots.md").write_text(robots.replace("Sony’s first AI", "Robots"))
    write_config(digest_config(articles, schedule="* * * * *", catch_up="1s"))
    running = start_bot()
    write_config(
        digest_config(
            articles,
            schedule="* * * * *",
            topics=["Robots", "AI"],
            channels=["#ai-news", "#general"],
        )
    )
    running.scheduler.reload_if_changed()
    assert "config reloaded added=- removed=- changed=ai" in caplog.text
    assert "digest changed digest=ai key=channels" in caplog.text
    running.scheduler.fire("ai")
    [general] = slack.messages_in("general")
    assert "*Robots*" in json.dumps(general["blocks"])


def test_broken_edit_keeps_the_running_config(
    start_bot: StartBot,
    slack: FakeSlack,
    write_config: ConfigWriter,
    articles: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An invalid edit is logged with its key; the bot keeps running the old config."""
    write_config(digest_config(articles, schedule="* * * * *", catch_up="1s"))
    running = start_bot()
    write_config(digest_config(articles, schedule="* * * * *", catch_up="1s", channels=[]))
    running.scheduler.reload_if_changed()
    assert "config reload failed, keeping the running config" in caplog.text
    assert "digests.ai.channels" in caplog.text
    assert running.service.config.digests["ai"].channels == ["#ai-news"]
    write_config(digest_config(articles, schedule="* * * * *", catch_up="99999999999d"))
    running.scheduler.reload_if_changed()
    assert "digests.ai.catch_up: '99999999999d' is too long" in caplog.text
    running.scheduler.fire("ai")
    assert len(slack.messages_in("ai-news")) == 1


def test_an_edit_that_crashes_the_reader_keeps_the_running_config(
    start_bot: StartBot,
    write_config: ConfigWriter,
    articles: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever goes wrong reading an edit is logged; the digests already running go on."""
    write_config(digest_config(articles, schedule="0 9 * * *"))
    running = start_bot()
    monkeypatch.setattr(scheduler, "load_config", _crash)
    write_config(digest_config(articles, schedule="0 10 * * *"))
    running.scheduler.reload_if_changed()
    assert "config reload crashed, keeping the running config" in caplog.text
    assert "RuntimeError: a bug" in caplog.text
    assert running.service.config.digests["ai"].schedule == "0 9 * * *"
    assert dict(running.scheduler.next_runs())["ai"].hour == 9


def _crash(path: Path) -> None:
    raise RuntimeError("a bug")


def test_jobs_follow_added_removed_and_rescheduled_digests(
    start_bot: StartBot, write_config: ConfigWriter, articles: Path
) -> None:
    """Adding, removing and rescheduling digests changes the APScheduler jobs."""
    write_config(digest_config(articles, catch_up="1m"))
    running = start_bot()
    before = dict(running.scheduler.next_runs())["ai"]
    data = digest_config(articles, schedule="0 10 * * *")
    data["digests"]["news"] = {"topics": ["AI"], "channels": ["#general"], "schedule": "0 8 * * *"}
    write_config(data)
    running.scheduler.reload_if_changed()
    after = dict(running.scheduler.next_runs())
    # APScheduler times its jobs by the real clock: compare the hours, not the days.
    assert set(after) == {"ai", "news"}
    assert (before.time(), after["ai"].time(), after["news"].time()) == (
        time(9),
        time(10),
        time(8),
    )
    del data["digests"]["ai"]
    write_config(data)
    running.scheduler.reload_if_changed()
    assert set(dict(running.scheduler.next_runs())) == {"news"}


def test_running_bot_posts_on_time_and_follows_edits(
    write_config: ConfigWriter, articles: Path
) -> None:
    """A real `digestbot run` whose clock nears 09:00 posts at 09:00; edits apply, a broken
    edit keeps it running with the key logged, and SIGTERM stops it cleanly."""
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        fake.add_channel("general")
        path = write_config(digest_config(articles))
        nine = MONDAY.replace(minute=0, second=0)
        running = BotProcess(process_env(fake, path), clock_at=nine - STARTUP)
        try:
            assert fake.wait_for_posts(1, timeout=20), running.err
            write_config(digest_config(articles, channels=["#ai-news", "#general"]))
            assert running.wait_for_line("config reloaded"), running.err
            path.write_text("articles: .\ndigests: {ai: {topics: []}}\n")
            assert running.wait_for_line("config reload failed"), running.err
            assert running.process.poll() is None
        finally:
            code, _, err = running.stop()
        assert code == 0, err
        [message] = fake.messages_in("ai-news")
        assert message["metadata"]["event_payload"]["run"] == "ai@2026-03-02T09:00:00+00:00"
        assert "digests.ai.topics" in err and "level=INFO logger=digestbot.bot stopped" in err
        assert fake.token not in err


def test_catch_up_in_a_real_process_and_a_dry_run_without_token(
    write_config: ConfigWriter, articles: Path
) -> None:
    """A run missed 3 minutes ago posts once at start, not after a restart; no token: dry run."""
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        path = write_config(digest_config(articles, schedule=minutes_ago(3), catch_up="1h"))
        first = BotProcess(process_env(fake, path))
        assert first.wait_for_line("status='delivered'"), first.err
        assert first.stop()[0] == 0
        second = BotProcess(process_env(fake, path))
        assert second.wait_for_line("next run digest=ai"), second.err
        code, _, err = second.stop()
        assert code == 0 and "catching up" not in err
        assert len(fake.messages_in("ai-news")) == 1
    env = process_env(None, path, DIGESTBOT_DATABASE_URL="sqlite:///unused.db")
    dry = BotProcess(env)
    assert dry.wait_for_line("fired digest=ai"), dry.err
    code, out, err = dry.stop()
    assert "dry run: SLACK_BOT_TOKEN is not set" in err
    assert "── ai → #ai-news · message 1 of 1 ──" in out


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="DIGESTBOT_TEST_DATABASE_URL is not set")
def test_three_replicas_on_postgres_deliver_each_channel_once(
    write_config: ConfigWriter, articles: Path, postgres_url: str
) -> None:
    """Three `digestbot run` replicas on one PostgreSQL post a scheduled run once per channel."""
    with FakeSlack(latency=0.05) as fake:
        channels = [f"#c{n}" for n in range(8)]
        for channel in channels:
            fake.add_channel(channel[1:])
        config = digest_config(articles, schedule=minutes_ago(2), catch_up="1h", channels=channels)
        path = write_config(config)
        env = process_env(fake, path, DIGESTBOT_DATABASE_URL=postgres_url)
        bots = [BotProcess(env) for _ in range(3)]
        try:
            assert fake.wait_for_posts(len(channels), timeout=20)
            for replica in bots:  # a replica that caught up has had its say on every channel
                assert replica.wait_for_line("level=INFO logger=digestbot.scheduler started"), (
                    replica.err
                )
                if "catching_up=1" in replica.err:
                    assert replica.wait_for_line("result digest=ai", len(channels)), replica.err
        finally:
            results = [replica.stop() for replica in bots]
        assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
        counts = {ch: len(fake.messages_in(ch)) for ch in channels}
        assert counts == dict.fromkeys(channels, 1)


def test_sweep_finishes_a_delivery_a_dead_replica_left(
    start_bot: StartBot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """The periodic sweep delivers a claim left pending by a replica that died."""
    from digestbot.ledger import Ledger
    from digestbot.runs import Run
    from digestbot.sender import claim_plan
    from digestbot.store import deliveries

    write_config(digest_config(articles, catch_up="1m"))
    running = start_bot()
    digest = running.service.config.digests["ai"]
    run = Run.scheduled_at(digest, MONDAY)
    [channel_plan] = running.service.preview([digest], run.at).plans
    ledger = Ledger(load_settings().database_url)
    claim, _ = ledger.claim(run.run_id, "#ai-news", "ai", claim_plan(channel_plan, run))
    ledger.release(claim)
    with ledger.engine.begin() as db:  # another replica's claim, and it died long ago
        db.execute(deliveries.update().values(owner="gone-host/0/1/0/t", heartbeat=0))
    ledger.close()
    running.scheduler.sweep()
    assert len(slack.messages_in("ai-news")) == 1


def test_topic_edit_keeps_the_job_and_its_due_time(
    start_bot: StartBot, write_config: ConfigWriter, articles: Path
) -> None:
    """Editing only topics or channels leaves the APScheduler job alone (no run is dropped)."""
    write_config(digest_config(articles, catch_up="1m"))
    running = start_bot()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=67)  # not a cron time
    running.scheduler.jobs.modify_job("ai", next_run_time=due)
    write_config(digest_config(articles, catch_up="1m", topics=["AI", "Robots"]))
    running.scheduler.reload_if_changed()
    assert running.scheduler.jobs.get_job("ai").next_run_time == due
    assert running.service.config.digests["ai"].topics == ["AI", "Robots"]


def test_a_firing_that_starts_late_within_catch_up_is_still_delivered(
    start_bot: StartBot,
    slack: FakeSlack,
    write_config: ConfigWriter,
    articles: Path,
    clock: FakeClock,
) -> None:
    """When APScheduler gets to a job five minutes late (a busy process, a laptop waking up),
    the run is delivered, not skipped as missed: its misfire grace is catch_up, not 1 s."""
    write_config(digest_config(articles, catch_up="10m"))
    clock.set(MONDAY.replace(minute=0) - timedelta(minutes=1))  # 08:59: nothing to catch up
    running = start_bot()
    assert slack.posts == []
    clock.set(MONDAY.replace(minute=5))
    five_late = datetime.now(UTC) - timedelta(minutes=5)  # APScheduler judges on the real clock
    running.scheduler.jobs.modify_job("ai", next_run_time=five_late)
    assert slack.wait_for_posts(1, timeout=10)
    [message] = slack.messages_in("ai-news")
    assert message["metadata"]["event_payload"]["run"] == "ai@2026-03-02T09:00:00+00:00"
