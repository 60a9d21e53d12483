"""Tests for the fake's injected failures and rate limits, through slack-sdk's WebClient."""

from __future__ import annotations

import urllib.error

import pytest
from conftest import slack_error
from fakeslack import FakeSlack
from slack_sdk import WebClient

# What slack-sdk raises when the server hangs up without answering (RemoteDisconnected is a
# ConnectionResetError; a failure while still sending would surface as URLError).
CONNECTION_ERRORS = (ConnectionError, urllib.error.URLError)


# --- rate limits ----------------------------------------------------------------------------


def test_channel_rate_limit_answers_429() -> None:
    """Past the per-channel burst, Slack answers 429 with Retry-After and posts nothing."""
    with FakeSlack(channel_rate=0.01, channel_burst=2) as fake:
        news, other = fake.add_channel("news"), fake.add_channel("other")
        client = WebClient(token=fake.token, base_url=fake.url)
        client.chat_postMessage(channel=news, text="1")
        client.chat_postMessage(channel=news, text="2")
        err = slack_error(client.chat_postMessage, channel=news, text="3")
        assert err.response.status_code == 429
        assert err.response["error"] == "ratelimited"
        assert int(err.response.headers["Retry-After"]) >= 1
        assert client.chat_postMessage(channel=other, text="elsewhere")["ok"]
        assert [p["text"] for p in fake.posts] == ["1", "2", "elsewhere"]


def test_workspace_rate_limit() -> None:
    """The workspace bucket limits posts across all channels."""
    with FakeSlack(workspace_per_minute=1, workspace_burst=2) as fake:
        ids = [fake.add_channel(name) for name in ("a", "b", "c")]
        client = WebClient(token=fake.token, base_url=fake.url)
        for cid in ids[:2]:
            client.chat_postMessage(channel=cid, text="x")
        err = slack_error(client.chat_postMessage, channel=ids[2], text="x")
        assert err.response.status_code == 429 and len(fake.posts) == 2


# --- injected failures ----------------------------------------------------------------------


def test_503_before_records_nothing(fake: FakeSlack, client: WebClient, news: str) -> None:
    """503_before: the client gets HTTP 503, the request is in calls, nothing is posted."""
    fake.fail_next("chat.postMessage", "503_before")
    err = slack_error(client.chat_postMessage, channel=news, text="hi")
    assert err.response.status_code == 503
    assert fake.posts == [] and [m for m, _ in fake.calls] == ["chat.postMessage"]
    assert client.chat_postMessage(channel=news, text="again")["ok"]


def test_503_after_records_the_post(fake: FakeSlack, client: WebClient, news: str) -> None:
    """503_after: the client sees a failure although Slack accepted the post."""
    fake.fail_next("chat.postMessage", "503_after")
    assert slack_error(client.chat_postMessage, channel=news, text="hi").response.status_code == 503
    assert [p["text"] for p in fake.posts] == ["hi"]


@pytest.mark.parametrize(("mode", "posted"), [("drop_before", 0), ("drop_after", 1)])
def test_dropped_connection(fake: FakeSlack, news: str, mode: str, posted: int) -> None:
    """A dropped connection raises a connection error; drop_after still posts."""
    client = WebClient(token=fake.token, base_url=fake.url, retry_handlers=[])
    fake.fail_next("chat.postMessage", mode)
    with pytest.raises(CONNECTION_ERRORS):
        client.chat_postMessage(channel=news, text="hi")
    assert len(fake.posts) == posted


def test_default_retry_after_drop_duplicates(fake: FakeSlack, client: WebClient, news: str) -> None:
    """slack-sdk's default connection retry re-sends after drop_after: Slack gets it twice."""
    fake.fail_next("chat.postMessage", "drop_after")
    assert client.chat_postMessage(channel=news, text="hi")["ok"]
    assert [p["text"] for p in fake.posts] == ["hi", "hi"]


def test_slow_after_times_out_but_posts(fake: FakeSlack, news: str) -> None:
    """slow_after: the client times out while the post was accepted."""
    fake.slow_seconds = 1.0
    fake.fail_next("chat.postMessage", "slow_after")
    client = WebClient(token=fake.token, base_url=fake.url, timeout=0.2, retry_handlers=[])
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel=news, text="hi")
    assert len(fake.posts) == 1


def test_fail_rate_respects_methods() -> None:
    """fail_rate=1 on chat.postMessage fails every post but leaves other methods alone."""
    with FakeSlack(seed=7) as fake:
        cid = fake.add_channel("news")
        fake.fail_rate, fake.fail_modes = 1.0, ("503_before",)
        fake.fail_methods = {"chat.postMessage"}
        client = WebClient(token=fake.token, base_url=fake.url)
        assert client.auth_test()["ok"]
        err = slack_error(client.chat_postMessage, channel=cid, text="hi")
        assert err.response.status_code == 503 and fake.posts == []


def test_fail_next_rejects_unknown_mode(fake: FakeSlack) -> None:
    """A misspelt failure mode is an error, not a silent no-op."""
    with pytest.raises(ValueError):
        fake.fail_next("chat.postMessage", "503")
