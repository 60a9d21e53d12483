"""The conversations.* methods: listing, joining and reading channels, history and threads."""

from __future__ import annotations

import base64
import math
from typing import Any

from .webapi import WebApi, flag
from .workspace import ApiError, FakeChannel, FakeToken

MAX_PAGE = 1000  # Slack caps `limit` on list methods at about 1000


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[Any], str]:
    """Cursor pagination: one page and the next cursor ("" after the last page)."""
    try:
        limit = min(max(int(params.get("limit") or 100), 1), MAX_PAGE)
        cursor = str(params.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    end = start + limit
    following = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], following


class Conversations(WebApi):
    """Channel listing, membership and reading in the token's workspace, with Slack's scopes,
    filters and cursors."""

    def _conversations_list(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        if "public_channel" in types:
            self._need(token, "channels:read")
        if "private_channel" in types:
            self._need(token, "groups:read")
        skip_archived = flag(params.get("exclude_archived"))
        listed = [
            c.info()
            for c in self.channels.values()
            if c.team == token.team
            and ("private_channel" in types if c.private else "public_channel" in types)
            and (c.member or not c.private)
            and not (skip_archived and c.archived)
        ]
        page, following = _page(listed, params)
        return {"channels": page, "response_metadata": {"next_cursor": following}}

    def _conversations_join(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        self._need(token, "channels:join")
        channel = self._visible(params.get("channel"), by_name=False, team=token.team)
        if channel.private:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.archived:
            raise ApiError("is_archived")
        already, channel.member = channel.member, True
        body: dict[str, Any] = {"channel": channel.info()}
        if already:
            body.update(
                warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]}
            )
        return body

    def _conversations_info(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        channel = self._visible(params.get("channel"), by_name=False, team=token.team)
        self._need(token, "groups:read" if channel.private else "channels:read")
        return {"channel": channel.info()}

    def _readable(self, params: dict[str, Any], token: FakeToken) -> FakeChannel:
        """The channel (by id only) for history and replies, with scope and membership checked."""
        channel = self._visible(params.get("channel"), by_name=False, team=token.team)
        self._need(token, "groups:history" if channel.private else "channels:history")
        if not channel.member:
            raise ApiError("not_in_channel")
        return channel

    def _read_page(
        self, messages: list[dict[str, Any]], params: dict[str, Any], *, pinned: int = 0
    ) -> dict[str, Any]:
        """Filter by oldest/latest/inclusive, drop metadata unless asked, then one page.

        The first `pinned` messages (a thread's parent) are kept whatever the time window.
        """
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or math.inf)
        inclusive = bool(flag(params.get("inclusive")))
        with_metadata = bool(flag(params.get("include_all_metadata")))
        found = []
        for n, message in enumerate(messages):
            ts = float(message["ts"])
            in_range = oldest <= ts <= latest if inclusive else oldest < ts < latest
            if in_range or n < pinned:
                found.append({k: v for k, v in message.items() if with_metadata or k != "metadata"})
        page, following = _page(found, params)
        return {
            "messages": page,
            "has_more": bool(following),
            "response_metadata": {"next_cursor": following},
        }

    def _conversations_history(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        channel = self._readable(params, token)
        # Newest first, as Slack answers; thread replies live in conversations.replies.
        top = [m for m in reversed(channel.messages) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {**self._read_page(top, params), "pin_count": 0}

    def _conversations_replies(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        """The parent first, then its replies oldest first; later pages hold only replies."""
        channel = self._readable(params, token)
        ts = str(params.get("ts") or "")
        start = next((m for m in channel.messages if m["ts"] == ts), None)
        if start is None:
            raise ApiError("thread_not_found")
        root = start.get("thread_ts", start["ts"])  # a reply's ts also finds its thread
        thread = [m for m in channel.messages if m.get("thread_ts", m["ts"]) == root]
        return self._read_page(thread, params, pinned=1)
