"""chat.postMessage and chat.postEphemeral: what Slack checks before accepting a message."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from .blocks import BlockError, block_text, image_urls, validate_blocks
from .faults import Faults
from .webapi import WebApi, flag, json_field
from .workspace import ApiError, FakeChannel, FakeToken

# Real Slack refuses a message past about 4,000 characters of text and 13,000 of block text
# (measured by Slack's users; its documents say 40,000 and nothing).
TEXT_LIMIT = 4_000
BLOCK_TEXT_LIMIT = 13_000


class Chat(WebApi, Faults):
    """Posting: channel access, rate limits, Block Kit and image checks, threads, metadata."""

    broken_images: set[str]  # image URLs whose "download" fails, like a WebP image's
    text_limit: int  # characters of top-level text past which Slack answers msg_too_long
    block_text_limit: int  # characters of block text past which: msg_blocks_too_long
    posts: list[dict[str, Any]]  # every accepted chat.postMessage (any workspace's), with options
    ephemerals: list[dict[str, Any]]  # every accepted chat.postEphemeral
    _last_ts_us: int  # the newest message ts, in microseconds

    def wait_for_posts(self, n: int, timeout: float = 10) -> bool:
        """Block until at least `n` posts were accepted; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.posts) >= n, timeout)

    def _writable(self, params: dict[str, Any], token: FakeToken) -> FakeChannel:
        channel = self._visible(params.get("channel"), by_name=True, team=token.team)
        if channel.archived:
            raise ApiError("is_archived")
        if not channel.member and "chat:write.public" not in token.scopes:
            raise ApiError("not_in_channel")
        return channel

    def _content(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        """Text and blocks, validated and with their images 'downloaded' as Slack does."""
        text = str(params.get("text") or "")
        blocks = json_field(params.get("blocks"), "invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        if not text.strip() and not blocks:
            raise ApiError("no_text")
        # Real Slack's limits, lower than its documents say (../shared/docs/slack-facts.md).
        if len(text) > self.text_limit:
            raise ApiError("msg_too_long")
        if block_text(blocks or []) > self.block_text_limit:
            raise ApiError("msg_blocks_too_long")
        try:
            validate_blocks(blocks or [])
            for url, pointer in image_urls(blocks or []):
                if url in self.broken_images or urlsplit(url).path.lower().endswith(".webp"):
                    raise BlockError("downloading image failed", pointer)
        except BlockError as err:
            msg = str(err)
            raise ApiError(
                "invalid_blocks", errors=[msg], response_metadata={"messages": [f"[ERROR] {msg}"]}
            ) from None
        return text, blocks

    def _next_ts(self) -> str:
        """Wall-clock ts (so `oldest=time.time() - ...` works), strictly increasing."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _post_message(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        self._need(token, "chat:write")
        channel = self._writable(params, token)
        self._rate_limit(channel)
        team = self.teams[channel.team]
        text, blocks = self._content(params)
        thread_ts = params.get("thread_ts") or None
        parent = None
        if thread_ts:
            parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
            if parent is None:
                raise ApiError("thread_not_found")
            # A reply's ts stands for its thread (Slack advises passing the parent's ts).
            thread_ts = parent.get("thread_ts", parent["ts"])
            parent = next(m for m in channel.messages if m["ts"] == thread_ts)
        metadata = json_field(params.get("metadata"), "invalid_metadata_format")
        if metadata is not None and not (isinstance(metadata, dict) and "event_type" in metadata):
            raise ApiError("invalid_metadata_format")
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": text,
            "user": team.bot_user_id,
            "bot_id": team.bot_id,
            "team": team.id,
        }
        optional = {"blocks": blocks, "thread_ts": thread_ts, "metadata": metadata}
        message.update({k: v for k, v in optional.items() if v is not None})
        if parent is not None:
            message["parent_user_id"] = parent.get("user", team.bot_user_id)
            users = sorted({*parent.get("reply_users", []), team.bot_user_id})
            parent.update(
                thread_ts=parent["ts"],
                reply_count=parent.get("reply_count", 0) + 1,
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=ts,
            )
        channel.messages.append(message)
        self.posts.append(
            {
                "channel": channel.id,
                "team": team.id,
                "ts": ts,
                "text": text,
                "blocks": blocks,
                "metadata": metadata,
                "thread_ts": thread_ts,
                "unfurl_links": flag(params.get("unfurl_links")),
                "unfurl_media": flag(params.get("unfurl_media")),
            }
        )
        self._changed.notify_all()
        return {"channel": channel.id, "ts": ts, "message": dict(message)}

    def _post_ephemeral(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        self._need(token, "chat:write")
        channel = self._writable(params, token)
        if not params.get("user"):
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": params["user"],
                "text": text,
                "blocks": blocks,
                "message_ts": ts,
                "thread_ts": params.get("thread_ts"),
            }
        )
        return {"message_ts": ts}
