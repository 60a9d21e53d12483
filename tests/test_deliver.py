"""Posting to Slack (slack-sdk over HTTP against the fake): images, joins, limits, lost answers."""

from __future__ import annotations

import copy
import itertools
import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import FakeClock
from fakeslack import FakeSlack, faults

from digestbot.deliver import Posted, Slack, explain, message_metadata, remove_at, strip_images
from digestbot.errors import DeliveryError

IMAGE = "https://img.example/photo.jpg"
LOGO = "https://img.example/logo.png"
BLOCKS: list[dict[str, Any]] = [
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*<https://a.example|Story>*"},
        "accessory": {"type": "image", "image_url": IMAGE, "alt_text": "Story"},
    },
    {
        "type": "context",
        "elements": [
            {"type": "image", "image_url": LOGO, "alt_text": "Provider"},
            {"type": "mrkdwn", "text": "Provider · 14 May 2020"},
        ],
    },
]
META = message_metadata("run-1", "ai-news", 0, "ai")


def arguments(blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "text": "Story",
        "blocks": copy.deepcopy(blocks or BLOCKS),
        "metadata": META,
        "unfurl_links": False,
        "unfurl_media": False,
    }


@pytest.fixture
def fake() -> FakeSlack:
    with FakeSlack() as running:
        running.add_channel("ai-news")
        yield running


@pytest.fixture
def client(fake: FakeSlack) -> Slack:
    return Slack(fake.token, fake.url, timeout=2)


def finder(client: Slack, fake: FakeSlack):
    return lambda: client.reader.find(fake.channel_id("ai-news"), META, 0, None)


def test_post_lands_with_metadata(client: Slack, fake: FakeSlack) -> None:
    """A plain post lands once, carrying the metadata that identifies the run."""
    posted = client.post("#ai-news", arguments(), finder(client, fake))
    assert posted.channel_id == fake.channel_id("ai-news")
    [message] = fake.messages_in("ai-news")
    assert message["metadata"] == META and message["ts"] == posted.ts


def test_dead_image_is_removed_and_the_article_kept(client: Slack, fake: FakeSlack) -> None:
    """A dead image costs only itself: the message is posted again without it."""
    fake.broken_images.add(IMAGE)
    client.post("#ai-news", arguments(), finder(client, fake))
    [message] = fake.messages_in("ai-news")
    assert "accessory" not in message["blocks"][0]
    assert message["blocks"][0]["text"]["text"] == "*<https://a.example|Story>*"
    assert message["blocks"][1]["elements"][0]["image_url"] == LOGO


def test_dead_logo_in_a_context_is_removed(client: Slack, fake: FakeSlack) -> None:
    """A dead provider logo is dropped from its context; the byline stays."""
    fake.broken_images.add(LOGO)
    client.post("#ai-news", arguments(), finder(client, fake))
    [message] = fake.messages_in("ai-news")
    assert message["blocks"][1]["elements"] == [BLOCKS[1]["elements"][1]]


def test_repeated_image_failures_post_without_images(client: Slack, fake: FakeSlack) -> None:
    """After repeated image failures every image goes, and the text still arrives."""
    blocks = [copy.deepcopy(BLOCKS[0]) for _ in range(5)]
    for n, block in enumerate(blocks):
        block["accessory"]["image_url"] = f"https://img.example/{n}.jpg"
        fake.broken_images.add(f"https://img.example/{n}.jpg")
    client.post("#ai-news", arguments(blocks), finder(client, fake))
    [message] = fake.messages_in("ai-news")
    assert all("accessory" not in block for block in message["blocks"])
    assert len(message["blocks"]) == 5
    # Two single removals, then everything at the third failure: four posts, not six.
    assert len(fake.statuses("chat.postMessage")) == 4


def test_not_in_channel_joins_a_public_channel(fake: FakeSlack) -> None:
    """Without chat:write.public the bot joins a public channel, then posts."""
    limited = FakeSlack(scopes=set(FakeSlack().scopes) - {"chat:write.public"}).start()
    try:
        limited.add_channel("outside", member=False)
        client = Slack(limited.token, limited.url)
        client.post("#outside", arguments(), lambda: None)
        assert len(limited.messages_in("outside")) == 1
        assert limited.channels[limited.channel_id("outside")].member
    finally:
        limited.stop()


def test_private_channel_without_the_bot_says_invite(fake: FakeSlack, client: Slack) -> None:
    """A private channel the bot is not in cannot be seen: the reason says to invite it."""
    fake.add_channel("secret", private=True, member=False)
    with pytest.raises(DeliveryError, match="invite the bot"):
        client.post("#secret", arguments(), lambda: None)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda f: f.add_channel("old", archived=True), "#old is archived"),
        (lambda f: None, "#old was not found"),
    ],
)
def test_channel_errors_are_explained(fake: FakeSlack, client: Slack, setup, reason: str) -> None:
    """Archived and unknown channels fail with a plain reason, and nothing is posted."""
    setup(fake)
    with pytest.raises(DeliveryError, match=reason):
        client.post("#old", arguments(), lambda: None)
    assert fake.posts == []


def test_rate_limit_is_honoured(fake: FakeSlack) -> None:
    """429 with Retry-After pauses and retries until the post goes through."""
    limited = FakeSlack(channel_rate=0.7, channel_burst=1).start()
    try:
        limited.add_channel("busy")
        client = Slack(limited.token, limited.url)
        for _ in range(2):
            client.post("#busy", arguments(), lambda: None)
        assert len(limited.messages_in("busy")) == 2
        assert any(status == 429 for status in limited.statuses("chat.postMessage"))
    finally:
        limited.stop()


@pytest.mark.parametrize("mode", ["503_after", "drop_after", "slow_after"])
def test_lost_answer_after_acceptance_is_not_posted_twice(
    fake: FakeSlack, client: Slack, mode: str
) -> None:
    """When Slack took the post but the answer was lost, history shows it: no second post."""
    fake.slow_seconds = 3
    fake.fail_next("chat.postMessage", mode)
    posted = client.post("#ai-news", arguments(), finder(client, fake))
    [message] = fake.messages_in("ai-news")
    assert posted.ts == message["ts"]


@pytest.mark.parametrize("mode", ["503_before", "drop_before"])
def test_lost_post_before_acceptance_is_posted_again(
    fake: FakeSlack, client: Slack, mode: str
) -> None:
    """When the post never reached Slack, history is empty and it is posted again, once."""
    fake.fail_next("chat.postMessage", mode)
    client.post("#ai-news", arguments(), finder(client, fake))
    assert len(fake.messages_in("ai-news")) == 1


def test_wrong_token_fails_cleanly(fake: FakeSlack) -> None:
    """A wrong token is refused at auth.test with a reason that never shows the token."""
    client = Slack("xoxb-wrong-token-123", fake.url)
    with pytest.raises(DeliveryError) as caught:
        client.reader.check_auth()
    assert "token is invalid or revoked" in str(caught.value)
    assert "xoxb-wrong" not in str(caught.value)


def test_unreachable_slack_is_a_clear_error() -> None:
    """No server at SLACK_API_URL gives a message about reaching Slack, not a traceback."""
    client = Slack("xoxb-x", "http://127.0.0.1:9/api/", timeout=1, retries=1)
    with pytest.raises(DeliveryError, match="cannot reach Slack for auth.test"):
        client.reader.check_auth()


def test_find_in_thread_replies(fake: FakeSlack, client: Slack) -> None:
    """A continuation is found among the thread's replies by its metadata."""
    first = client.post("#ai-news", arguments(), lambda: None)
    meta = message_metadata("run-1", "ai-news", 1, "ai")
    reply = {**arguments(), "metadata": meta, "thread_ts": first.ts}
    second = client.post("#ai-news", reply, lambda: None)
    reader = client.reader
    assert reader.find(first.channel_id, meta, 0, first.ts) == Posted(second.ts, first.channel_id)
    assert reader.find(first.channel_id, message_metadata("run-2", "x", 0, "ai"), 0, None) is None


def test_remove_at_and_strip_images() -> None:
    """Removing one image by its pointer path, or every image, keeps all text."""
    assert "accessory" not in remove_at(BLOCKS, ["0", "accessory"])[0]
    assert len(remove_at(BLOCKS, ["1", "elements", "0"])[1]["elements"]) == 1
    stripped = strip_images([*BLOCKS, {"type": "image", "image_url": IMAGE, "alt_text": "x"}])
    assert len(stripped) == 2 and "accessory" not in stripped[0]
    assert stripped[1]["elements"] == [BLOCKS[1]["elements"][1]]


def test_explain_missing_scope() -> None:
    """missing_scope names the scope to add."""
    reason = explain("missing_scope", "#x", {"needed": "channels:join"})
    assert reason == (
        "the app lacks the channels:join scope: add it in the app's settings and reinstall the app"
    )


def test_history_of_a_public_channel_not_joined_is_read_after_joining() -> None:
    """After a lost answer in a public channel not joined, digestbot joins to read history."""
    with FakeSlack() as fake:
        fake.add_channel("outside", member=False)
        client = Slack(fake.token, fake.url)
        fake.fail_next("chat.postMessage", "503_after")
        cid = fake.channel_id("outside")
        client.post("#outside", arguments(), lambda: client.reader.find(cid, META, 0, None))
        assert len(fake.messages_in("outside")) == 1
        assert fake.channels[cid].member


def test_stopping_during_a_rate_limit_pause_leaves_the_post_uncertain() -> None:
    """SIGTERM while waiting out a 429 ends the wait at once; the claim must stay open."""
    import threading

    with FakeSlack(channel_rate=0.01, channel_burst=1) as fake:
        fake.add_channel("busy")
        stop = threading.Event()
        client = Slack(fake.token, fake.url, stop=stop)
        client.post("#busy", arguments(), lambda: None)
        stop.set()
        with pytest.raises(DeliveryError) as caught:
            client.post("#busy", arguments(), lambda: None)
        assert caught.value.uncertain and "stopping" in caught.value.reason


# Pacing and rate limits, on a clock the test controls: waits advance it at once (and are
# recorded), the fake's rate limits run on it, and the fake reads it as each post lands.

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def paced(fake: FakeSlack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clock's reading each time a post lands, with the fake's rate limits on that clock."""
    monkeypatch.setattr(faults, "time", SimpleNamespace(monotonic=clock.monotonic))
    landed: list[float] = []
    fake.on_post = lambda post: landed.append(clock.monotonic())
    return landed


def post_each(client: Slack, channels: list[str]) -> None:
    """Post to each channel in turn; fail (rather than hang) if that never ends, as when a
    client retries 429s without ever pausing."""
    worker = threading.Thread(
        target=lambda: [client.post(ch, arguments(), lambda: None) for ch in channels],
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the posts never finished"


def test_posts_to_one_channel_are_a_second_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack allows about one message a second per channel: digestbot never posts faster to
    one channel, while another channel is not held up by it."""
    clock = FakeClock(START, auto_advance=True)
    with FakeSlack() as fake:
        fake.add_channel("busy")
        fake.add_channel("other")
        landed = paced(fake, clock, monkeypatch)
        post_each(Slack(fake.token, fake.url, clock=clock), ["#busy", "#busy", "#other", "#busy"])
        busy = [landed[0], landed[1], landed[3]]
        assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(busy))
        assert landed[2] == landed[1]  # #other went at once
        assert landed[3] - landed[0] < 2.5  # and no slower than needed


def test_after_a_429_the_next_post_waits_for_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two posts to one channel are at least Retry-After apart after a 429, and digestbot asks
    again only once that time is up: one 429, not a burst of them."""
    clock = FakeClock(START, auto_advance=True)
    # One post every 4 s: the second, a second after the first, gets 429 with Retry-After: 3.
    with FakeSlack(channel_rate=0.25, channel_burst=1) as fake:
        fake.add_channel("busy")
        landed = paced(fake, clock, monkeypatch)
        post_each(Slack(fake.token, fake.url, clock=clock), ["#busy", "#busy"])
        assert fake.statuses("chat.postMessage") == [200, 429, 200]
        assert landed[1] - landed[0] >= 1.0 + 3.0


def test_a_429_slows_every_channel_then_the_pace_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a 429 posts to other channels are spaced out too; as they land, the pace returns."""
    clock = FakeClock(START, auto_advance=True)
    with FakeSlack(channel_rate=0.25, channel_burst=1) as fake:
        names = [f"c{n}" for n in range(40)]
        for name in names:
            fake.add_channel(name)
        landed = paced(fake, clock, monkeypatch)
        post_each(
            Slack(fake.token, fake.url, clock=clock), [f"#{name}" for name in names[:1] + names]
        )
        assert fake.statuses("chat.postMessage")[:3] == [200, 429, 200]
        gaps = [later - earlier for earlier, later in itertools.pairwise(landed[1:])]
        assert gaps[0] >= 0.05  # slowed down after the 429
        assert gaps[-1] == 0  # and back to full speed
