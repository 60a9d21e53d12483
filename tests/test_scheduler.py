"""`digestbot run`: firing, catch-up, live config, clean stops and replicas on PostgreSQL."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, ConfigWriter, process_env
from fakeslack import FakeSlack

from digestbot.config import load_settings
from digestbot.scheduler import Worker

SONY_URL = "https://www.theverge.com/2020/5/14/21258403"


def config(articles: Path, **digest: object) -> dict:
    body = {"topics": ["AI"], "channels": ["#ai-news"], "schedule": "0 9 * * *", **digest}
    return {"articles": str(articles), "digests": {"ai": body}}


def minutes_ago(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return f"{moment.minute} {moment.hour} * * *"


@pytest.fixture
def worker_for(slack: FakeSlack):
    """Build Workers from the environment; stop them all at the end."""
    workers: list[Worker] = []

    def build() -> Worker:
        worker = Worker(load_settings(), printer=lambda plans: None)
        workers.append(worker)
        return worker

    yield build
    for worker in workers:
        worker.shutdown()


def test_firing_delivers_the_latest_scheduled_run_once(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """Firing twice for the same scheduled time (a retry, a second job) posts the run once."""
    write_config(config(articles, schedule="* * * * *", catch_up="1s"))
    worker = worker_for()
    worker.start()
    worker.fire("ai")
    worker.fire("ai")
    assert len(slack.messages_in("ai-news")) == 1
    message = slack.messages_in("ai-news")[0]
    assert message["metadata"]["event_payload"]["run"].startswith("ai@20")


def test_catch_up_posts_once_and_not_again_after_restart(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """A run whose time passed 3 minutes before start is delivered at start, once."""
    write_config(config(articles, schedule=minutes_ago(3)))
    worker_for().start()
    assert slack.wait_for_posts(1, timeout=10)
    time.sleep(0.5)
    restarted = worker_for()
    restarted.start()
    time.sleep(1.0)
    assert len(slack.messages_in("ai-news")) == 1


def test_catch_up_window_is_respected(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """A run older than its catch_up window is not delivered late."""
    write_config(config(articles, schedule=minutes_ago(3), catch_up="2m"))
    worker_for().start()
    time.sleep(1.0)
    assert slack.posts == []


def test_live_config_edit_changes_the_next_digest(
    worker_for,
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
    write_config(config(articles, schedule="* * * * *", catch_up="1s"))
    worker = worker_for()
    worker.start()
    write_config(
        config(
            articles,
            schedule="* * * * *",
            topics=["Robots", "AI"],
            channels=["#ai-news", "#general"],
        )
    )
    worker.reload_if_changed()
    assert "config reloaded added=- removed=- changed=ai" in caplog.text
    assert "digest changed digest=ai key=channels" in caplog.text
    worker.fire("ai")
    [general] = slack.messages_in("general")
    assert "*Robots*" in json.dumps(general["blocks"])


def test_broken_edit_keeps_the_running_config(
    worker_for,
    slack: FakeSlack,
    write_config: ConfigWriter,
    articles: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An invalid edit is logged with its key; the bot keeps running the old config."""
    write_config(config(articles, schedule="* * * * *", catch_up="1s"))
    worker = worker_for()
    worker.start()
    write_config(config(articles, schedule="* * * * *", catch_up="1s", channels=[]))
    worker.reload_if_changed()
    assert "config reload failed, keeping the running config" in caplog.text
    assert "digests.ai.channels" in caplog.text
    assert worker.config.digests["ai"].channels == ["#ai-news"]
    worker.fire("ai")
    assert len(slack.messages_in("ai-news")) == 1


def test_jobs_follow_added_removed_and_rescheduled_digests(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """Adding, removing and rescheduling digests changes the APScheduler jobs."""
    write_config(config(articles))
    worker = worker_for()
    worker.start()
    before = dict(worker.next_runs())["ai"]
    data = config(articles, schedule="0 10 * * *")
    data["digests"]["news"] = {"topics": ["AI"], "channels": ["#general"], "schedule": "0 8 * * *"}
    write_config(data)
    worker.reload_if_changed()
    after = dict(worker.next_runs())
    assert set(after) == {"ai", "news"} and after["ai"] - before == timedelta(hours=1)
    del data["digests"]["ai"]
    write_config(data)
    worker.reload_if_changed()
    assert set(dict(worker.next_runs())) == {"news"}


def run_bot(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digestbot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(bot: subprocess.Popen[str]) -> tuple[int, str, str]:
    bot.send_signal(signal.SIGTERM)
    out, err = bot.communicate(timeout=10)
    return bot.returncode, out, err


def test_running_bot_posts_within_the_minute_and_follows_edits(
    write_config: ConfigWriter, articles: Path, tmp_path: Path
) -> None:
    """`* * * * *` posts within the minute, with live edits; bad edits and SIGTERM are safe."""
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        fake.add_channel("general")
        path = write_config(config(articles, schedule="* * * * *", catch_up="1s"))
        if datetime.now().second >= 50:  # leave time to edit the config before the minute turns
            time.sleep(61 - datetime.now().second)
        bot = run_bot(process_env(fake, path))
        try:
            time.sleep(2.5)  # started; now edit the config while it runs
            write_config(
                config(
                    articles, schedule="* * * * *", catch_up="1s", channels=["#ai-news", "#general"]
                )
            )
            deadline = time.monotonic() + 70
            while len(fake.messages_in("general")) == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert fake.messages_in("general") and len(fake.messages_in("ai-news")) == 1
            path.write_text("articles: .\ndigests: {ai: {topics: []}}\n")
            time.sleep(2.5)
            assert bot.poll() is None
        finally:
            code, _, err = stop(bot)
        assert code == 0, err
        assert "config reloaded" in err and "config reload failed" in err
        assert "digests.ai.topics" in err and "level=INFO logger=digestbot.scheduler stopped" in err
        assert fake.token not in err


def test_catch_up_in_a_real_process_and_a_dry_run_without_token(
    write_config: ConfigWriter, articles: Path
) -> None:
    """A run missed 3 minutes ago posts once at start, not after a restart; no token: dry run."""
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        path = write_config(config(articles, schedule=minutes_ago(3)))
        for _ in range(2):
            bot = run_bot(process_env(fake, path))
            time.sleep(3)
            code, _, err = stop(bot)
            assert code == 0, err
        assert len(fake.messages_in("ai-news")) == 1
    dry = run_bot(process_env(None, path, DIGESTBOT_DATABASE_URL="sqlite:///unused.db"))
    time.sleep(3)
    code, out, err = stop(dry)
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
        path = write_config(config(articles, schedule=minutes_ago(2), channels=channels))
        env = process_env(fake, path, DIGESTBOT_DATABASE_URL=postgres_url)
        bots = [run_bot(env) for _ in range(3)]
        try:
            fake.wait_for_posts(len(channels), timeout=20)
            time.sleep(2)
        finally:
            results = [stop(bot) for bot in bots]
        assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
        counts = {ch: len(fake.messages_in(ch)) for ch in channels}
        assert counts == dict.fromkeys(channels, 1)


def test_sweep_finishes_a_delivery_a_dead_replica_left(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """The periodic sweep delivers a claim left pending by a replica that died."""
    from digestbot.ledger import Ledger
    from digestbot.pipeline import plan
    from digestbot.runs import Run, claim_plan

    write_config(config(articles, schedule="0 9 * * *"))
    worker = worker_for()
    worker.start()
    digest = worker.config.digests["ai"]
    run = Run.scheduled_at(digest, datetime.now(UTC))
    with worker.library() as library:
        [channel_plan] = plan(worker.config, library, [digest], run.at)
    ledger = Ledger(load_settings().database_url)
    claim, _ = ledger.claim(run.run_id, "#ai-news", "ai", claim_plan(channel_plan, run))
    ledger.release(claim)
    from digestbot.store import deliveries

    with ledger.engine.begin() as db:  # another replica's claim, and it died long ago
        db.execute(deliveries.update().values(owner="gone-host/0/1/0/t", heartbeat=0))
    ledger.close()
    worker.sweep()
    assert len(slack.messages_in("ai-news")) == 1


def test_topic_edit_keeps_the_job_and_its_due_time(
    worker_for, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """Editing only topics or channels leaves the APScheduler job alone (no run is dropped)."""
    write_config(config(articles))
    worker = worker_for()
    worker.start()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=67)  # not a cron time
    worker.scheduler.modify_job("ai", next_run_time=due)
    write_config(config(articles, topics=["AI", "Robots"]))
    worker.reload_if_changed()
    assert worker.scheduler.get_job("ai").next_run_time == due
    assert worker.config.digests["ai"].topics == ["AI", "Robots"]
