"""Tests for the fake Slack server, driven through slack-sdk's real WebClient over HTTP."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakeslack import FakeSlack, close_socket_client, ws_accept
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

# What slack-sdk raises when the server hangs up without answering (RemoteDisconnected is a
# ConnectionResetError; a failure while still sending would surface as URLError).
CONNECTION_ERRORS = (ConnectionError, urllib.error.URLError)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A running fake, stopped (socket closed) after the test."""
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """slack-sdk's real client with its default retry handlers, pointed at the fake."""
    return WebClient(token=fake.token, base_url=fake.url)


@pytest.fixture
def news(fake: FakeSlack) -> str:
    """The id of a public channel the bot is in."""
    return fake.add_channel("news")


def slack_error(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    """Run a client call that must fail and return the SlackApiError."""
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def section(text: str, **extra: Any) -> dict[str, Any]:
    """A mrkdwn section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def image(url: str) -> dict[str, Any]:
    """An image block; also valid as a section accessory or context element."""
    return {"type": "image", "image_url": url, "alt_text": "pic"}


def blocks_error(client: WebClient, channel: str, blocks: list[dict[str, Any]]) -> str:
    """Post blocks that Slack must reject and return the single invalid_blocks message."""
    err = slack_error(client.chat_postMessage, channel=channel, text="fallback", blocks=blocks)
    assert err.response["error"] == "invalid_blocks"
    (message,) = err.response["errors"]
    assert err.response["response_metadata"]["messages"] == [f"[ERROR] {message}"]
    return message


# --- auth -------------------------------------------------------------------------------------


def test_auth_test_ok(client: WebClient) -> None:
    """auth.test answers with the bot's identity."""
    data = client.auth_test().data
    assert data["ok"] is True
    assert (data["team_id"], data["user_id"], data["bot_id"]) == ("T0001", "U0BOT", "B0001")


def test_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    """A wrong token gets HTTP 200 with invalid_auth."""
    err = slack_error(WebClient(token="xoxb-wrong", base_url=fake.url).auth_test)
    assert (err.response.status_code, err.response["error"]) == (200, "invalid_auth")


def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    """No token at all gets not_authed."""
    err = slack_error(WebClient(base_url=fake.url).auth_test)
    assert err.response["error"] == "not_authed"


def test_revoked_token(fake: FakeSlack, client: WebClient, news: str) -> None:
    """With revoked set, every call answers token_revoked and nothing is posted."""
    fake.revoked = True
    assert slack_error(client.auth_test).response["error"] == "token_revoked"
    err = slack_error(client.chat_postMessage, channel=news, text="hi")
    assert err.response["error"] == "token_revoked"
    assert fake.posts == []


def test_missing_scope_names_the_scope() -> None:
    """Without chat:write, posting fails with missing_scope, needed and provided."""
    with FakeSlack(scopes={"channels:read"}) as fake:
        fake.add_channel("news")
        client = WebClient(token=fake.token, base_url=fake.url)
        err = slack_error(client.chat_postMessage, channel="#news", text="hi")
    assert err.response["error"] == "missing_scope"
    assert (err.response["needed"], err.response["provided"]) == ("chat:write", "channels:read")


def test_unknown_method(client: WebClient) -> None:
    """A method the fake does not know answers unknown_method."""
    assert slack_error(client.api_call, "no.such.method").response["error"] == "unknown_method"


# --- chat.postMessage: channels -------------------------------------------------------------


def test_post_by_id_is_recorded(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A post by channel id is stored in posts and in the channel, with a ts."""
    metadata = {"event_type": "digest", "event_payload": {"id": "d1"}}
    resp = client.chat_postMessage(
        channel=news, text="hello", metadata=metadata, unfurl_links=False, unfurl_media=False
    )
    assert resp["channel"] == news and resp["message"]["text"] == "hello"
    (post,) = fake.posts
    assert post["ts"] == resp["ts"] and post["metadata"] == metadata
    assert (post["unfurl_links"], post["unfurl_media"]) == (False, False)
    assert fake.channels[news].messages[0]["bot_id"] == "B0001"


def test_post_by_hash_name(fake: FakeSlack, client: WebClient, news: str) -> None:
    """'#news' and 'news' resolve to the channel id; ts values strictly increase."""
    first = client.chat_postMessage(channel="#news", text="one")
    second = client.chat_postMessage(channel="news", text="two")
    assert first["channel"] == second["channel"] == news
    assert float(first["ts"]) < float(second["ts"])


def test_unknown_channel(client: WebClient) -> None:
    """Posting to a channel that does not exist gives channel_not_found."""
    err = slack_error(client.chat_postMessage, channel="#nowhere", text="hi")
    assert err.response["error"] == "channel_not_found"


def test_archived_channel(fake: FakeSlack, client: WebClient) -> None:
    """Posting to an archived channel gives is_archived."""
    old = fake.add_channel("old", archived=True)
    assert slack_error(client.chat_postMessage, channel=old, text="x").response["error"] == (
        "is_archived"
    )


def test_not_in_channel_until_joined() -> None:
    """Without chat:write.public a non-member gets not_in_channel; after joining, posts work."""
    with FakeSlack(scopes={"chat:write", "channels:join"}) as fake:
        cid = fake.add_channel("news", member=False)
        client = WebClient(token=fake.token, base_url=fake.url)
        err = slack_error(client.chat_postMessage, channel=cid, text="hi")
        assert err.response["error"] == "not_in_channel"
        assert client.conversations_join(channel=cid)["channel"]["is_member"] is True
        assert client.chat_postMessage(channel=cid, text="hi")["ok"]
        assert len(fake.posts) == 1


def test_public_scope_posts_without_joining(fake: FakeSlack, client: WebClient) -> None:
    """With chat:write.public a bot posts into a public channel it has not joined."""
    cid = fake.add_channel("general", member=False)
    assert client.chat_postMessage(channel=cid, text="hi")["ok"]


def test_private_channel_not_member_is_not_found(fake: FakeSlack, client: WebClient) -> None:
    """A private channel the bot is not in looks like it does not exist."""
    cid = fake.add_channel("secret", private=True, member=False)
    assert cid.startswith("G")
    err = slack_error(client.chat_postMessage, channel=cid, text="hi")
    assert err.response["error"] == "channel_not_found"


def test_no_text(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A post with neither text nor blocks gives no_text (api_call skips slack-sdk's warning)."""
    err = slack_error(client.api_call, "chat.postMessage", json={"channel": news})
    assert err.response["error"] == "no_text"


def test_thread_replies(fake: FakeSlack, client: WebClient, news: str) -> None:
    """thread_ts must name an existing message; a reply records its thread_ts."""
    err = slack_error(client.chat_postMessage, channel=news, text="r", thread_ts="1.000001")
    assert err.response["error"] == "thread_not_found"
    parent = client.chat_postMessage(channel=news, text="parent")["ts"]
    client.chat_postMessage(channel=news, text="reply", thread_ts=parent)
    assert fake.posts[-1]["thread_ts"] == parent


def test_ephemeral_is_recorded(fake: FakeSlack, client: WebClient, news: str) -> None:
    """chat.postEphemeral answers message_ts and lands in ephemerals, not posts."""
    resp = client.chat_postEphemeral(channel=news, user="U123", text="only you")
    assert fake.ephemerals[0]["message_ts"] == resp["message_ts"]
    assert fake.ephemerals[0]["user"] == "U123" and fake.posts == []


# --- chat.postMessage: blocks ---------------------------------------------------------------


def test_too_many_blocks(client: WebClient, news: str) -> None:
    """51 blocks are rejected at /blocks."""
    message = blocks_error(client, news, [{"type": "divider"}] * 51)
    assert message == "no more than 50 items allowed [json-pointer:/blocks]"


def test_section_text_too_long(client: WebClient, news: str) -> None:
    """Section text over 3000 characters points at that text."""
    message = blocks_error(client, news, [{"type": "divider"}, section("x" * 3001)])
    assert message == "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"


def test_empty_text_object(client: WebClient, news: str) -> None:
    """An empty text object is rejected."""
    message = blocks_error(client, news, [section("")])
    assert message == "must be more than 0 characters [json-pointer:/blocks/0/text/text]"


def test_non_http_image(client: WebClient, news: str) -> None:
    """An image block with a non-http URL points at its image_url."""
    message = blocks_error(client, news, [section("a"), image("ftp://example.com/a.png")])
    assert message.endswith("[json-pointer:/blocks/1/image_url]")


def test_other_block_limits(client: WebClient, news: str) -> None:
    """Header length, field count, duplicate block_id and a long button are each rejected."""
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
    cases = {
        "/blocks/0/text/text": [header],
        "/blocks/0/fields": [fields],
        "/blocks/1/block_id": [section("a", block_id="x"), section("b", block_id="x")],
        "/blocks/0/elements/0/text/text": [{"type": "actions", "elements": [button]}],
    }
    for pointer, blocks in cases.items():
        assert blocks_error(client, news, blocks).endswith(f"[json-pointer:{pointer}]")


def test_blocks_as_form_encoded_json_string(fake: FakeSlack, client: WebClient, news: str) -> None:
    """Blocks sent form-encoded as a JSON string are parsed and stored as a list."""
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]'
    client.api_call("chat.postMessage", data={"channel": news, "text": "hi", "blocks": blocks})
    assert fake.posts[0]["blocks"][0]["text"]["text"] == "hi"


def test_broken_accessory_image(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A broken accessory image rejects the whole message, pointing at the accessory."""
    fake.broken_images.add("https://img.example/dead.png")
    accessory = image("https://img.example/dead.png")
    blocks = [section("a"), section("b"), {"type": "divider"}, section("c", accessory=accessory)]
    message = blocks_error(client, news, blocks)
    assert message == "downloading image failed [json-pointer:/blocks/3/accessory/image_url]"
    assert fake.posts == []


def test_webp_context_image(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A WebP image in a context block fails to download, pointing at the element."""
    elements = [{"type": "mrkdwn", "text": "by"}, image("https://img.example/a.webp")]
    message = blocks_error(client, news, [{"type": "context", "elements": elements}])
    assert message == "downloading image failed [json-pointer:/blocks/0/elements/1/image_url]"


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


# --- conversations --------------------------------------------------------------------------


def test_history_metadata_only_when_asked(fake: FakeSlack, client: WebClient, news: str) -> None:
    """History is newest first and includes metadata only with include_all_metadata."""
    metadata = {"event_type": "digest", "event_payload": {"id": "d1"}}
    client.chat_postMessage(channel=news, text="old")
    client.chat_postMessage(channel=news, text="new", metadata=metadata)
    plain = client.conversations_history(channel=news)["messages"]
    assert [m["text"] for m in plain] == ["new", "old"]
    assert all("metadata" not in m for m in plain)
    full = client.conversations_history(channel=news, include_all_metadata=True)["messages"]
    assert full[0]["metadata"] == metadata


def test_history_bounds_and_pages(fake: FakeSlack, client: WebClient, news: str) -> None:
    """oldest/latest are exclusive and limit/cursor page through the rest."""
    stamps = [client.chat_postMessage(channel=news, text=str(i))["ts"] for i in range(5)]
    resp = client.conversations_history(channel=news, oldest=stamps[0], latest=stamps[4], limit=2)
    assert [m["text"] for m in resp["messages"]] == ["3", "2"] and resp["has_more"]
    cursor = resp["response_metadata"]["next_cursor"]
    rest = client.conversations_history(
        channel=news, oldest=stamps[0], latest=stamps[4], cursor=cursor
    )
    assert [m["text"] for m in rest["messages"]] == ["1"]
    assert rest["response_metadata"]["next_cursor"] == ""


def test_history_access_errors(fake: FakeSlack, client: WebClient, news: str) -> None:
    """History needs a channel id, and membership."""
    err = slack_error(client.conversations_history, channel="#news")
    assert err.response["error"] == "channel_not_found"
    outside = fake.add_channel("outside", member=False)
    err = slack_error(client.conversations_history, channel=outside)
    assert err.response["error"] == "not_in_channel"


def thread(client: WebClient, channel: str, replies: int) -> list[str]:
    """Post a parent and `replies` replies; return their ts values, parent first."""
    parent = client.chat_postMessage(channel=channel, text="parent")["ts"]
    posted = [
        client.chat_postMessage(channel=channel, text=f"r{i}", thread_ts=parent)["ts"]
        for i in range(replies)
    ]
    return [parent, *posted]


def test_replies_parent_first(fake: FakeSlack, client: WebClient, news: str) -> None:
    """Replies answers the parent then its replies oldest first; history shows only the parent."""
    parent, *replies = thread(client, news, 3)
    client.chat_postMessage(channel=news, text="unrelated")
    messages = client.conversations_replies(channel=news, ts=parent)["messages"]
    assert [m["text"] for m in messages] == ["parent", "r0", "r1", "r2"]
    assert [m["ts"] for m in messages] == [parent, *replies]
    assert all(m["thread_ts"] == parent for m in messages)
    assert messages[0]["reply_count"] == 3 and messages[0]["latest_reply"] == replies[-1]
    history = client.conversations_history(channel=news)["messages"]
    assert [m["text"] for m in history] == ["unrelated", "parent"]
    by_reply = client.conversations_replies(channel=news, ts=replies[1])["messages"]
    assert [m["ts"] for m in by_reply] == [parent, *replies]


def test_replies_of_a_lone_message(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A message without replies comes back alone, with no thread fields."""
    ts = client.chat_postMessage(channel=news, text="alone")["ts"]
    (message,) = client.conversations_replies(channel=news, ts=ts)["messages"]
    assert message["text"] == "alone" and "thread_ts" not in message
    assert "reply_count" not in message


def test_replies_metadata_only_when_asked(fake: FakeSlack, client: WebClient, news: str) -> None:
    """Replies include metadata only with include_all_metadata."""
    metadata = {"event_type": "digest", "event_payload": {"id": "d1"}}
    parent = client.chat_postMessage(channel=news, text="p", metadata=metadata)["ts"]
    client.chat_postMessage(channel=news, text="r", thread_ts=parent, metadata=metadata)
    plain = client.conversations_replies(channel=news, ts=parent)["messages"]
    assert len(plain) == 2 and all("metadata" not in m for m in plain)
    full = client.conversations_replies(channel=news, ts=parent, include_all_metadata=True)
    assert [m["metadata"] for m in full["messages"]] == [metadata, metadata]


def test_replies_errors(fake: FakeSlack, client: WebClient, news: str) -> None:
    """Unknown ts, channel name, unknown channel and non-member each fail like Slack."""
    ts = client.chat_postMessage(channel=news, text="p")["ts"]
    outside = fake.add_channel("outside", member=False)
    cases = [
        ("thread_not_found", news, "1.000001"),
        ("channel_not_found", "#news", ts),
        ("channel_not_found", "C9999999", ts),
        ("not_in_channel", outside, ts),
    ]
    for error, channel, thread_ts in cases:
        err = slack_error(client.conversations_replies, channel=channel, ts=thread_ts)
        assert err.response["error"] == error


def test_replies_private_needs_groups_history() -> None:
    """Replies in a private channel need groups:history."""
    with FakeSlack() as fake:
        secret = fake.add_channel("secret", private=True)
        client = WebClient(token=fake.token, base_url=fake.url)
        ts = client.chat_postMessage(channel=secret, text="p")["ts"]
        err = slack_error(client.conversations_replies, channel=secret, ts=ts)
        assert (err.response["error"], err.response["needed"]) == (
            "missing_scope",
            "groups:history",
        )
        fake.scopes.add("groups:history")
        assert len(client.conversations_replies(channel=secret, ts=ts)["messages"]) == 1


def test_replies_bounds_and_pages(fake: FakeSlack, client: WebClient, news: str) -> None:
    """oldest/latest filter the replies, the parent stays first; later pages omit the parent."""
    parent, *replies = thread(client, news, 5)
    resp = client.conversations_replies(
        channel=news, ts=parent, oldest=replies[0], latest=replies[4], limit=2
    )
    assert [m["text"] for m in resp["messages"]] == ["parent", "r1"] and resp["has_more"]
    cursor = resp["response_metadata"]["next_cursor"]
    rest = client.conversations_replies(
        channel=news, ts=parent, oldest=replies[0], latest=replies[4], limit=2, cursor=cursor
    )
    assert [m["text"] for m in rest["messages"]] == ["r2", "r3"]
    assert rest["response_metadata"]["next_cursor"] == ""
    both = client.conversations_replies(
        channel=news, ts=parent, oldest=replies[0], latest=replies[1], inclusive=True
    )
    assert [m["text"] for m in both["messages"]] == ["parent", "r0", "r1"]


def test_channel_id_and_messages_in(fake: FakeSlack, client: WebClient, news: str) -> None:
    """channel_id and messages_in accept names with or without '#'; replies are included."""
    other = fake.add_channel("other")
    assert fake.channel_id("news") == fake.channel_id("#news") == news
    parent, reply = thread(client, news, 1)
    client.chat_postMessage(channel=other, text="elsewhere")
    for ref in (news, "news", "#news"):
        assert [m["ts"] for m in fake.messages_in(ref)] == [parent, reply]
    assert fake.messages_in(news)[1]["thread_ts"] == parent
    fake.messages_in(news)[0]["text"] = "changed"
    assert fake.messages_in(news)[0]["text"] == "parent"
    with pytest.raises(KeyError):
        fake.channel_id("nowhere")
    with pytest.raises(KeyError):
        fake.messages_in("#nowhere")


def test_conversations_list_pagination(fake: FakeSlack, client: WebClient) -> None:
    """conversations.list pages with cursors; archived and private channels are filtered."""
    names = [f"c{i}" for i in range(5)]
    for name in names:
        fake.add_channel(name)
    fake.add_channel("gone", archived=True)
    fake.add_channel("mine", private=True)
    fake.add_channel("theirs", private=True, member=False)
    # slack-sdk's page iterator reuses one SlackResponse, so read each page as it comes.
    pages = [
        [c["name"] for c in page["channels"]]
        for page in client.conversations_list(limit=2, exclude_archived=True)
    ]
    assert pages == [names[:2], names[2:4], names[4:]]
    both = client.conversations_list(types="public_channel,private_channel")["channels"]
    assert {c["name"] for c in both} == {*names, "gone", "mine"}


def test_join_and_info(fake: FakeSlack, client: WebClient) -> None:
    """join refuses private and archived channels; info reports membership."""
    public = fake.add_channel("public", member=False)
    private = fake.add_channel("private", private=True)
    archived = fake.add_channel("archived", archived=True, member=False)
    assert client.conversations_info(channel=public)["channel"]["is_member"] is False
    client.conversations_join(channel=public)
    assert client.conversations_info(channel=public)["channel"]["is_member"] is True
    err = slack_error(client.conversations_join, channel=private)
    assert err.response["error"] == "method_not_supported_for_channel_type"
    err = slack_error(client.conversations_join, channel=archived)
    assert err.response["error"] == "is_archived"
    err = slack_error(client.conversations_join, channel="C9999999")
    assert err.response["error"] == "channel_not_found"


# --- response URLs and waiting --------------------------------------------------------------


def test_response_url_records(fake: FakeSlack) -> None:
    """JSON posted to a response URL is recorded with its key; Slack answers 'ok'."""
    resp = WebhookClient(fake.response_url("cmd1")).send(text="done", response_type="ephemeral")
    assert (resp.status_code, resp.body) == (200, "ok")
    assert fake.responses == [{"text": "done", "response_type": "ephemeral", "key": "cmd1"}]


def test_wait_for_posts_and_on_post(fake: FakeSlack, client: WebClient, news: str) -> None:
    """wait_for_posts sees a post made from another thread; on_post sees each post."""
    seen: list[str] = []
    fake.on_post = lambda post: seen.append(post["text"])
    worker = threading.Thread(target=client.chat_postMessage, kwargs={"channel": news, "text": "a"})
    worker.start()
    assert fake.wait_for_posts(1, timeout=5)
    worker.join()
    assert seen == ["a"]
    assert fake.wait_for_posts(2, timeout=0.05) is False


def test_concurrent_posts_with_latency() -> None:
    """Requests are served concurrently; every post is kept once, with a unique ts."""
    with FakeSlack(latency=0.05) as fake:
        cid = fake.add_channel("news")
        client = WebClient(token=fake.token, base_url=fake.url)
        workers = [
            threading.Thread(
                target=client.chat_postMessage, kwargs={"channel": cid, "text": str(i)}
            )
            for i in range(10)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(int(p["text"]) for p in fake.posts) == list(range(10))
        assert len({p["ts"] for p in fake.posts}) == 10 == len(fake.channels[cid].messages)


# --- Socket Mode ----------------------------------------------------------------------------

SLASH = {"command": "/digest", "text": "now", "user_id": "U0001", "channel_id": "C0000001"}


def eventually(check: Callable[[], Any], timeout: float = 5) -> Any:
    """Poll `check` until it returns something truthy; that value, or the last falsy one."""
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return result


def socket_client(fake: FakeSlack, **kwargs: Any) -> SocketModeClient:
    """slack-sdk's builtin Socket Mode client, pointed at the fake (not connected yet)."""
    web = WebClient(base_url=fake.url, token=fake.token)
    return SocketModeClient(app_token=fake.app_token, web_client=web, **kwargs)


def test_connections_open_needs_the_app_token(fake: FakeSlack, client: WebClient) -> None:
    """apps.connections.open takes only the app token; bot methods refuse the app token."""
    url = client.apps_connections_open(app_token=fake.app_token)["url"]
    assert url == f"ws://127.0.0.1:{fake.origin.rsplit(':', 1)[1]}/socket/1"
    err = slack_error(client.apps_connections_open, app_token=fake.token)
    assert err.response["error"] == "not_allowed_token_type"
    err = slack_error(client.apps_connections_open, app_token="xapp-1-wrong")
    assert err.response["error"] == "invalid_auth"
    err = slack_error(WebClient(token=fake.app_token, base_url=fake.url).auth_test)
    assert err.response["error"] == "not_allowed_token_type"
    with pytest.raises(RuntimeError):
        fake.send_slash_command(SLASH)


def test_socket_mode_client_gets_slash_command(fake: FakeSlack) -> None:
    """The builtin client gets hello and a slash command; its ack reaches socket_acks."""
    seen: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        requests.append(req)
        response = SocketModeResponse(envelope_id=req.envelope_id, payload={"text": "on it"})
        client.send_socket_mode_response(response)

    sm = socket_client(fake)
    sm.message_listeners.append(lambda client, message, raw: seen.append(message))
    sm.socket_mode_request_listeners.append(listener)
    try:
        sm.connect()
        assert fake.socket_connected(timeout=5)
        envelope_id = fake.send_slash_command(SLASH)
        ack = fake.wait_for_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "on it"}}
        assert fake.socket_acks == [ack]
        assert [(r.type, r.envelope_id, r.payload) for r in requests] == [
            ("slash_commands", envelope_id, SLASH)
        ]
        assert seen[0]["type"] == "hello" and seen[0]["connection_info"]["app_id"] == "A0001"
        # connect() pings at once; the pong's timestamp shows the fake answered it.
        assert eventually(lambda: sm.current_session.last_ping_pong_time is not None)
        assert fake.wait_for_ack("no-such-envelope", timeout=0.05) is None
    finally:
        close_socket_client(sm)


def test_close_then_stop_leaves_no_threads() -> None:
    """client.close() then fake.stop() ends every thread either of them started."""
    before = set(threading.enumerate())
    fake = FakeSlack().start()
    sm = socket_client(fake)
    try:
        sm.connect()
        assert fake.socket_connected(timeout=5)
    finally:
        close_socket_client(sm)
        fake.stop()
    assert eventually(lambda: set(threading.enumerate()) <= before, timeout=2)


def test_stop_sends_close_frame() -> None:
    """stop() closes a connected client with 1001, promptly, and ends the fake's threads."""
    closes: list[tuple[int, str | None]] = []
    before = set(threading.enumerate())
    with FakeSlack() as fake:
        sm = socket_client(fake, auto_reconnect_enabled=False)
        sm.on_close_listeners.append(lambda code, reason: closes.append((code, reason)))
        sm.connect()
        assert fake.socket_connected(timeout=5)
        started = time.monotonic()
    try:
        assert time.monotonic() - started < 0.5  # the client left at once, no CLOSE_WAIT
        assert closes == [(1001, "going away")] and not sm.is_connected()
    finally:
        close_socket_client(sm)
    assert eventually(lambda: set(threading.enumerate()) <= before, timeout=2)


def raw_handshake(fake: FakeSlack, path: str, key: str) -> tuple[socket.socket, bytes]:
    """Open a WebSocket by hand; the socket and the raw response head."""
    sock = socket.create_connection(("127.0.0.1", int(fake.origin.rsplit(":", 1)[1])), timeout=5)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head and (chunk := sock.recv(1)):
        head += chunk
    return sock, head


def raw_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one short unmasked server frame: (opcode, payload)."""
    b1, b2 = sock.recv(2, socket.MSG_WAITALL)
    size = b2 if b2 < 126 else struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
    return b1 & 0x0F, sock.recv(size, socket.MSG_WAITALL) if size else b""


def test_websocket_handshake_and_protocol_errors(fake: FakeSlack, client: WebClient) -> None:
    """Unissued paths get 404; the accept key is RFC 6455's; an unmasked frame is closed 1002."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock, head = raw_handshake(fake, "/socket/1", key)
    with sock:
        assert head.startswith(b"HTTP/1.0 404")
    client.apps_connections_open(app_token=fake.app_token)
    sock, head = raw_handshake(fake, "/socket/1", key)
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        assert f"Sec-WebSocket-Accept: {ws_accept(key)}".encode() in head
        assert ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        opcode, hello = raw_frame(sock)
        assert opcode == 0x1 and json.loads(hello)["type"] == "hello"
        sock.sendall(b"\x81\x02hi")  # unmasked text frame
        while (frame := raw_frame(sock))[0] == 0x9:  # skip the fake's pings
            pass
        assert frame == (0x8, struct.pack("!H", 1002) + b"client frames must be masked")
        assert sock.recv(1) == b""  # then it hangs up


def test_bolt_socket_mode_handler_acks_slash_command(fake: FakeSlack) -> None:
    """A Bolt app behind SocketModeHandler acks a slash command with its text."""
    app = App(client=WebClient(base_url=fake.url, token=fake.token), signing_secret="unused")

    @app.command("/digest")
    def digest(ack: Callable[..., None], command: dict[str, Any]) -> None:
        ack(f"digest {command['text']}")

    handler = SocketModeHandler(app, app_token=fake.app_token)
    try:
        handler.connect()
        assert fake.socket_connected(timeout=5)
        ack = fake.wait_for_ack(fake.send_slash_command(SLASH))
        assert ack is not None and ack["payload"] == {"text": "digest now"}
    finally:
        close_socket_client(handler)
