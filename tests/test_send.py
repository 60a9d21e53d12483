"""`digestbot send` end to end: real slack-sdk over HTTP to the fake, a real ledger."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ConfigWriter, HurriedClock, copy_sony, process_env
from fakeslack import FakeSlack

from digestbot.bot import open_service
from digestbot.config import load_config, load_settings
from digestbot.runs import Run

pytestmark = pytest.mark.slow  # bot processes

SONY_URL = "https://www.theverge.com/2020/5/14/21258403/sony-image-sensor-integrated-ai-chip-imx500-specs-price"
SONY_IMAGE_PREFIX = "https://cdn.vox-cdn.com/thumbor/"


def config_for(articles: Path, channels: list[str], **digest: object) -> dict:
    body = {"title": "AI daily", "topics": ["AI"], "channels": channels, **digest}
    return {"articles": str(articles), "digests": {"ai-daily": body}}


def test_send_delivers_once_and_then_nothing_new(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """The seed digest lands in #ai-news with its metadata; a second send repeats nothing."""
    write_config()
    first = cli("send")
    assert first.code == 0, first.err
    assert first.out.startswith("ai-daily → #ai-news: delivered: 1 article in 1 message, https://")
    [message] = slack.messages_in("ai-news")
    assert SONY_URL in json.dumps(message["blocks"])
    assert message["metadata"]["event_type"] == "digestbot_digest"
    second = cli("send")
    assert second.code == 0
    assert second.out.strip() == "ai-daily → #ai-news: nothing new"
    assert len(slack.messages_in("ai-news")) == 1


def test_force_sends_again(slack: FakeSlack, write_config: ConfigWriter, cli) -> None:
    """--force includes articles the channel already had."""
    write_config()
    cli("send")
    assert cli("send", "--force").code == 0
    assert len(slack.messages_in("ai-news")) == 2


def test_preview_shows_only_what_is_new(slack: FakeSlack, write_config: ConfigWriter, cli) -> None:
    """After a send, preview leaves out what the channel already had."""
    write_config()
    cli("send")
    assert "nothing to post" in cli("preview").out


def test_channel_option_overrides_the_config(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """--channel posts to the given channel instead of the configured ones."""
    write_config()
    result = cli("send", "ai-daily", "--channel", "#general")
    assert result.code == 0
    assert len(slack.messages_in("general")) == 1 and slack.messages_in("ai-news") == []


def test_bad_channels_are_reported_and_the_others_delivered(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, cli
) -> None:
    """#archived and unknown channels fail with reasons; the good ones are delivered; exit 1."""
    slack.add_channel("archived", archived=True)
    write_config(config_for(articles, ["#archived", "#ai-news", "#nowhere", "#general"]))
    result = cli("send")
    assert result.code == 1
    lines = result.out.strip().splitlines()
    assert lines[0] == (
        "ai-daily → #archived: failed: #archived is archived: unarchive it or remove it from "
        "the config"
    )
    assert lines[1].startswith("ai-daily → #ai-news: delivered")
    assert "#nowhere was not found: check the name, or invite the bot" in lines[2]
    assert lines[3].startswith("ai-daily → #general: delivered")


def test_dead_image_is_delivered_without_it(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """An article whose image is dead arrives without the image, with everything else."""
    write_config()
    payload = json.loads(cli("preview", "--json").out)[0]
    image = payload["blocks"][3]["accessory"]["image_url"]
    assert image.startswith(SONY_IMAGE_PREFIX)
    slack.broken_images.add(image)
    assert cli("send").code == 0
    [message] = slack.messages_in("ai-news")
    assert image not in json.dumps(message["blocks"])
    assert SONY_URL in json.dumps(message["blocks"])


def test_no_token_refuses_and_dry_run_prints(write_config: ConfigWriter, cli) -> None:
    """Without SLACK_BOT_TOKEN send refuses clearly; --dry-run shows what it would post."""
    write_config()
    refused = cli("send")
    assert refused.code == 1
    assert refused.err.strip() == (
        "error: SLACK_BOT_TOKEN is not set: digestbot needs the app's bot token to post "
        "(`digestbot send --dry-run` shows what it would post)"
    )
    dry = cli("send", "--dry-run")
    assert dry.code == 0 and "── ai-daily → #ai-news · message 1 of 1 ──" in dry.out


def test_wrong_token_fails_cleanly_and_never_shows_it(
    slack: FakeSlack, write_config: ConfigWriter, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong token fails in one line; the token appears nowhere, even with --debug logs."""
    secret = "xoxb-test-wrong-token-value"
    monkeypatch.setenv("SLACK_BOT_TOKEN", secret)
    write_config()
    result = cli("send")
    assert result.code == 1
    assert "the token is invalid or revoked" in result.err
    verbose = cli("-v", "send")
    assert secret not in result.out + result.err + verbose.out + verbose.err
    assert slack.posts == []


def test_secret_is_redacted_from_debug_logs(
    slack: FakeSlack, write_config: ConfigWriter, cli, caplog: pytest.LogCaptureFixture
) -> None:
    """With --debug, slack-sdk's own request logs still never show the real token."""
    write_config()
    result = cli("--debug", "send")
    assert result.code == 0
    assert slack.token not in result.out + result.err


def test_long_digest_continues_in_a_thread(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, cli, hurried: HurriedClock
) -> None:
    """A digest past 50 blocks posts a first message and its continuation as a thread reply."""
    copy_sony(articles, 30)  # two blocks an article: 31 articles cannot fit one message
    write_config(config_for(articles, ["#ai-news"], top=40))
    assert cli("send").code == 0
    first, *replies = slack.messages_in("ai-news")
    assert replies and all(reply["thread_ts"] == first["ts"] for reply in replies)
    assert "more articles in the thread" in json.dumps(first["blocks"])
    assert cli("send").out.strip() == "ai-daily → #ai-news: nothing new"


def many_channels(fake: FakeSlack, count: int) -> list[str]:
    names = [f"c{n:02d}" for n in range(count)]
    for name in names:
        fake.add_channel(name)
    return [f"#{name}" for name in names]


def test_flaky_slack_and_workspace_limit_deliver_exactly_once(
    write_config: ConfigWriter, articles: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30% failing calls and 60 posts a minute: 20 channels get one digest each; exit 0."""
    with FakeSlack(seed=7, workspace_per_minute=60, workspace_burst=15) as fake:
        channels = many_channels(fake, 20)
        fake.fail_rate = 0.3
        fake.fail_modes = ("503_before", "503_after", "drop_before", "drop_after")
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        write_config(config_for(articles, channels))
        result = cli("send")
        assert result.code == 0, result.out + result.err
        fake.fail_rate = 0
        counts = {ch: len(fake.messages_in(ch)) for ch in channels}
        assert counts == dict.fromkeys(channels, 1)
        assert 429 in fake.statuses("chat.postMessage")
        assert {0, 503} <= set(fake.statuses("chat.postMessage"))


def test_killed_mid_delivery_then_rerun_delivers_each_channel_once(
    write_config: ConfigWriter, articles: Path, tmp_path: Path
) -> None:
    """SIGKILL halfway through 40 channels, then send again: one digest in every channel."""
    # A workspace limit spreads the posts out, so that the kill lands mid-way.
    with FakeSlack(latency=0.05, workspace_per_minute=1200, workspace_burst=10) as fake:
        channels = many_channels(fake, 40)
        path = write_config(config_for(articles, channels))
        env = process_env(fake, path)
        command = [sys.executable, "-m", "digestbot", "send"]
        victim = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = threading.Event()

        def kill_halfway(post: dict) -> None:
            if len(fake.posts) >= 20 and not killed.is_set():
                killed.set()
                victim.send_signal(signal.SIGKILL)

        fake.on_post = kill_halfway
        victim.communicate(timeout=60)
        assert killed.is_set() and victim.returncode == -signal.SIGKILL
        fake.on_post = None
        assert 20 <= len(fake.posts) < 40
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        counts = {ch: len(fake.messages_in(ch)) for ch in channels}
        assert counts == dict.fromkeys(channels, 1), rerun.stdout
        assert "completed an interrupted run" in rerun.stdout
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert again.stdout.count("nothing new") == 40


SAME_RUN = """
from datetime import UTC, datetime
from digestbot.bot import open_service
from digestbot.config import load_config, load_settings
from digestbot.runs import Run

settings = load_settings()
config = load_config(settings.config_path)
run = Run.scheduled_at(config.digests["ai-daily"], datetime(2020, 5, 15, 9, tzinfo=UTC))
service = open_service(settings, config, post=True)
for outcome in service.deliver([run], recover=False).outcomes:
    print(outcome.status)
"""


def test_two_processes_sending_the_same_run_post_it_once(
    write_config: ConfigWriter, articles: Path
) -> None:
    """Two processes delivering the same scheduled run at once: each channel gets it once."""
    with FakeSlack(latency=0.02) as fake:
        channels = many_channels(fake, 10)
        path = write_config(config_for(articles, channels))
        env = process_env(fake, path)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", SAME_RUN],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=60) for proc in procs]
        assert all(proc.returncode == 0 for proc in procs), outputs
        counts = {ch: len(fake.messages_in(ch)) for ch in channels}
        assert counts == dict.fromkeys(channels, 1)
        statuses = [line for out, _ in outputs for line in out.splitlines()]
        assert statuses.count("delivered") == 10
        assert len(statuses) == 20


def test_an_unconfirmed_post_is_checked_not_repeated(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """A post whose answer was lost and could not be checked is found later, not repeated."""
    write_config()
    slack.fail_next("chat.postMessage", "503_after")
    slack.scopes.discard("channels:history")  # the check cannot be made
    first = cli("send")
    assert first.code == 1 and "left open: the next run checks the channel" in first.out
    assert "lacks the channels:history scope" in first.out
    assert len(slack.messages_in("ai-news")) == 1
    again = cli("send")  # still no way to check: nothing is posted again
    assert again.code == 1 and len(slack.messages_in("ai-news")) == 1
    slack.scopes.add("channels:history")
    second = cli("send")
    assert second.code == 0, second.out
    assert "delivered (completed an interrupted run)" in second.out
    assert len(slack.messages_in("ai-news")) == 1


def test_two_digests_sharing_a_channel_at_once_send_an_article_once(
    write_config: ConfigWriter, articles: Path
) -> None:
    """Two digests sent to one channel at the same moment deliver an article once."""
    with FakeSlack(latency=0.05) as fake:
        fake.add_channel("ai-news")
        body = {"topics": ["AI"], "channels": ["#ai-news"]}
        path = write_config({"articles": str(articles), "digests": {"a": body, "b": body}})
        env = process_env(fake, path)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "digestbot", "send", name],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        assert len(fake.messages_in("ai-news")) == 1
        assert sorted(line.split(": ", 1)[1][:9] for line in outputs) == ["delivered", "nothing n"]


def test_a_channel_named_or_given_by_id_is_one_channel(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """After a send to #ai-news, a send to the same channel by its ID has nothing new."""
    write_config()
    assert cli("send").code == 0
    again = cli("send", "--channel", slack.channel_id("ai-news"))
    assert again.out.strip().endswith("nothing new")
    assert len(slack.messages_in("ai-news")) == 1


def test_retrying_a_failed_run_plans_again(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """Retrying a run's failed channel plans again and repeats nothing it had since."""
    from datetime import UTC, datetime

    slack.add_channel("late", archived=True)
    config = load_config(write_config(config_for(articles, ["#late"])))
    digest = config.digests["ai-daily"]
    run = Run.scheduled_at(digest, datetime(2020, 5, 15, 9, tzinfo=UTC))
    service = open_service(load_settings(), config, post=True)

    def statuses(run: Run) -> list[str]:
        return [o.status for o in service.deliver([run], recover=False).outcomes]

    assert statuses(run) == ["failed"]
    slack.channels[slack.channel_id("late")].archived = False
    assert statuses(Run.manual(digest, run.at)) == ["delivered"]
    assert statuses(run) == ["nothing new"]
    assert len(slack.messages_in("late")) == 1
    service.close()


def test_a_channel_listed_by_name_and_id_gets_one_digest(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, cli
) -> None:
    """A digest listing one channel twice, as #name and as its ID, posts there once."""
    write_config(config_for(articles, ["#ai-news", slack.channel_id("ai-news")]))
    result = cli("send")
    assert result.code == 0 and result.out.count("\n") == 1
    assert len(slack.messages_in("ai-news")) == 1
