"""Tests for the fake's Web API methods, through slack-sdk's real WebClient over HTTP."""

from __future__ import annotations

import threading

import pytest
from conftest import slack_error
from fakeslack import FakeSlack
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

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
