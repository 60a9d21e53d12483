"""The /digest slash command: signed HTTP requests to the running bot, and /healthz."""

from __future__ import annotations

import errno
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import BotProcess, ConfigWriter, free_port, process_env, wait_for
from fakeslack import FakeSlack
from slackrequests import SECRET, command, post, signed

from digestbot.bot import Bot, build
from digestbot.config import load_settings

pytestmark = pytest.mark.slow  # bot processes


@pytest.fixture
def bot(slack: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch):
    """A running worker with the HTTP transport on a free port."""
    slack.add_channel("hardware")
    write_config(
        {
            "articles": str(articles),
            "digests": {
                "ai": {
                    "title": "AI daily",
                    "topics": ["AI"],
                    "channels": ["#ai-news"],
                    "schedule": "0 9 * * 1-5",
                    "timezone": "Europe/Berlin",
                    # Started between 09:00 and 10:00 on a weekday, the bot would catch the
                    # morning's run up and post it: these tests post only what they ask for.
                    "catch_up": "0s",
                }
            },
        }
    )
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    running = build(load_settings(), printer=lambda plans: None)
    running.start()
    running.port = port  # type: ignore[attr-defined]
    yield running
    running.shutdown()


def answers(fake: FakeSlack) -> list[dict]:
    return list(fake.responses)


def test_healthz_reports_digests_and_next_run(bot: Bot) -> None:
    """GET /healthz answers 200 with the digests loaded and the next run while alive."""
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/healthz", timeout=3) as response:
        body = json.load(response)
    assert response.status == 200
    assert body["status"] == "ok" and body["digests"] == 1 and body["next_digest"] == "ai"
    assert body["next_run"].endswith("+00:00")


def test_digest_typed_in_a_channel_is_acknowledged_then_posted_there(
    bot: Bot, slack: FakeSlack
) -> None:
    """`/digest ai` in #hardware: the ack comes back before the digest lands in #hardware."""
    slack.latency = 0.4  # building and posting take longer than the acknowledgement
    body = command(slack, "ai")
    status, _ = post(bot.port, body, signed(body))
    assert status == 200
    assert slack.messages_in("hardware") == []  # acknowledged first
    assert wait_for(lambda: slack.messages_in("hardware"))
    assert wait_for(lambda: answers(slack))
    assert answers(slack)[0]["text"].startswith("Posted *ai* here: 1 article in 1 message")
    assert answers(slack)[0]["response_type"] == "ephemeral"
    assert slack.messages_in("ai-news") == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, secret="forged-secret"), id="forged"),
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(lambda body: signed(body, age=6 * 60), id="replayed"),
    ],
)
def test_forged_unsigned_and_replayed_requests_get_401(bot: Bot, slack: FakeSlack, headers) -> None:
    """A request Slack did not sign, or one older than five minutes, does nothing."""
    body = command(slack, "ai")
    status, _ = post(bot.port, body, headers(body))
    assert status == 401
    time.sleep(0.5)
    assert slack.posts == [] and answers(slack) == []


def test_preview_answers_privately_and_posts_nothing(bot: Bot, slack: FakeSlack) -> None:
    """`/digest ai preview` shows the digest only to the asker: an ephemeral answer."""
    body = command(slack, "ai preview")
    assert post(bot.port, body, signed(body))[0] == 200
    assert wait_for(lambda: answers(slack))
    [answer] = answers(slack)
    assert answer["response_type"] == "ephemeral"
    assert "Sony’s first AI image sensor" in json.dumps(answer["blocks"], ensure_ascii=False)
    assert slack.posts == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "• *ai* (AI daily): AI → #ai-news · next: "),
        ("nope", "There is no digest called `nope`. Digests: `ai`."),
        ("ai now please", "I did not understand `now please`."),
        ("help", "`/digest NAME preview` shows it only to you"),
    ],
)
def test_list_unknown_and_help_answers(
    bot: Bot, slack: FakeSlack, text: str, expected: str
) -> None:
    """Listing, unknown names and stray words all get a helpful ephemeral answer."""
    body = command(slack, text)
    assert post(bot.port, body, signed(body))[0] == 200
    assert wait_for(lambda: answers(slack))
    assert expected in answers(slack)[0]["text"]
    assert slack.posts == []


def test_allowed_users_limit_who_may_post(
    bot: Bot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """With slash.allowed_users set, others may preview but not post."""
    write_config(
        {
            "articles": str(articles),
            "slash": {"allowed_users": ["U0BOSS"]},
            "digests": {"ai": {"topics": ["AI"], "channels": ["#ai-news"]}},
        }
    )
    bot.scheduler.reload_if_changed()
    body = command(slack, "ai")
    assert post(bot.port, body, signed(body))[0] == 200
    assert wait_for(lambda: answers(slack))
    assert "You may not post digests" in answers(slack)[0]["text"]
    assert slack.posts == []


def test_failure_is_explained_not_silent(bot: Bot, slack: FakeSlack) -> None:
    """When the post fails (an archived channel), the person is told why."""
    slack.add_channel("old", archived=True)
    body = command(slack, "ai", channel="old")
    assert post(bot.port, body, signed(body))[0] == 200
    assert wait_for(lambda: answers(slack))
    assert "Could not post *ai*: #old is archived" in answers(slack)[0]["text"]


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({"PORT": "8080", "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        ({"PORT": "8080", "SLACK_SIGNING_SECRET": SECRET}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN must be"),
    ],
)
def test_missing_secrets_are_a_clear_start_up_error(
    write_config: ConfigWriter, cli, monkeypatch: pytest.MonkeyPatch, variables: dict, missing: str
) -> None:
    """`digestbot run` refuses to start without the secrets its transports need."""
    write_config()
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = cli("run")
    assert result.code == 1 and missing in result.err
    assert "Traceback" not in result.err


def test_run_in_a_real_process_serves_health_and_the_command(
    write_config: ConfigWriter, articles: Path
) -> None:
    """`digestbot run` with PORT and SLACK_SIGNING_SECRET answers /healthz and /digest."""
    with FakeSlack() as fake:
        fake.add_channel("hardware")
        path = write_config(
            {
                "articles": str(articles),
                "digests": {
                    "ai": {
                        "topics": ["AI"],
                        "channels": ["#ai-news"],
                        "schedule": "0 9 * * *",
                        "catch_up": "0s",  # the test posts only what it asks for
                    }
                },
            }
        )
        port = free_port()
        env = process_env(fake, path, PORT=str(port), SLACK_SIGNING_SECRET=SECRET)
        running = BotProcess(env)
        try:
            assert running.wait_for_line("http listening"), running.err
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
                assert answer.status == 200
            body = command(fake, "ai")
            assert post(port, body, signed(body))[0] == 200
            assert wait_for(lambda: fake.messages_in("hardware"))
        finally:
            code, _, err = running.stop()
        assert code == 0, err
        assert SECRET not in err and fake.token not in err


def test_app_manifest_has_the_command_and_every_scope_digestbot_uses() -> None:
    """The manifest declares /digest at /slack/events and the scopes delivery and history need."""
    import yaml
    from conftest import ROOT

    manifest = yaml.safe_load((ROOT / "config" / "slack-app-manifest.yaml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/digest" and command["url"].endswith("/slack/events")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:read",
        "channels:history",
        "commands",
    }
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_socket_mode_receives_the_command_and_posts(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch
) -> None:
    """With SLACK_APP_TOKEN the bot connects out over Socket Mode, acks /digest and posts."""
    slack.add_channel("hardware")
    write_config(
        {"articles": str(articles), "digests": {"ai": {"topics": ["AI"], "channels": ["#ai-news"]}}}
    )
    monkeypatch.setenv("SLACK_APP_TOKEN", slack.app_token)
    worker = build(load_settings(), printer=lambda plans: None)
    worker.start()
    try:
        assert slack.socket_connected(timeout=10)
        envelope = slack.send_slash_command(
            {
                "command": "/digest",
                "text": "ai",
                "channel_id": slack.channel_id("hardware"),
                "channel_name": "hardware",
                "user_id": "U0ALICE",
                "user_name": "alice",
                "team_id": "T0001",
                "response_url": slack.response_url("socket"),
            }
        )
        assert slack.wait_for_ack(envelope, timeout=5) is not None
        assert wait_for(lambda: slack.messages_in("hardware"))
        assert wait_for(lambda: answers(slack))
        assert answers(slack)[0]["text"].startswith("Posted *ai* here")
    finally:
        worker.shutdown()


def test_allowed_channels_limit_where_digests_are_posted(
    bot: Bot, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """With slash.allowed_channels set, /digest posts only in those channels (named or by
    ID); typed anywhere else it refuses and posts nothing."""
    slack.add_channel("lab")
    allowed = ["#ai-news", slack.channel_id("lab")]
    write_config(
        {
            "articles": str(articles),
            "slash": {"allowed_channels": allowed},
            "digests": {"ai": {"topics": ["AI"], "channels": ["#general"]}},
        }
    )
    bot.scheduler.reload_if_changed()
    for count, channel in enumerate(("hardware", "ai-news", "lab"), 1):
        body = command(slack, "ai", channel=channel)
        assert post(bot.port, body, signed(body))[0] == 200
        assert wait_for(lambda n=count: len(answers(slack)) == n)
    refused, *posted = (answer["text"] for answer in answers(slack))
    assert "You may not post digests with /digest here" in refused
    assert all(text.startswith("Posted *ai* here") for text in posted), posted
    assert slack.messages_in("hardware") == []
    assert len(slack.messages_in("ai-news")) == 1 and len(slack.messages_in("lab")) == 1


def test_the_front_door_stops_even_when_its_wake_up_pipe_is_gone(monkeypatch, caplog) -> None:
    """Stopping closes the listening socket and ends the server thread, even when waitress's
    trigger can no longer be written to (its pipe closed under it: EBADF)."""
    from digestbot.frontdoor import FrontDoor

    door = FrontDoor(free_port(), lambda: (True, {}), None, host="127.0.0.1")
    door.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{door.port}/healthz", timeout=5) as answer:
        assert answer.status == 200

    def gone() -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(door.server.trigger, "_physical_pull", gone)
    door.stop()
    assert not door.thread.is_alive()
    assert "the server loop cannot be woken" in caplog.text
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{door.port}/healthz", timeout=2)


@pytest.mark.parametrize("setting", ["PORT", "--port"])
def test_a_port_in_use_is_an_error_naming_the_setting(setting: str) -> None:
    """Another program on the port: a DigestbotError saying so and where to choose another
    (not an unexpected OSError)."""
    from digestbot.errors import DigestbotError
    from digestbot.frontdoor import FrontDoor

    first = FrontDoor(free_port(), lambda: (True, {}), None, host="127.0.0.1")
    first.start()
    try:
        with pytest.raises(DigestbotError) as caught:
            FrontDoor(first.port, lambda: (True, {}), None, host="127.0.0.1", setting=setting)
    finally:
        first.stop()
    assert str(caught.value) == (
        f"cannot listen on 127.0.0.1:{first.port} (address already in use): "
        f"choose another port with {setting}"
    )
