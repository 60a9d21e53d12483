"""The workspace the fake stands for: its ids, scopes and channels, and Slack's error answer."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0001", "U0BOT", "B0001", "A0001"
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:read",
        "channels:history",
        "groups:read",
        "commands",
    }
)

# (status, body, extra headers); a str body is sent as text/plain (response URLs answer "ok").
Reply = tuple[int, dict[str, Any] | str, dict[str, str]]


@dataclass
class FakeChannel:
    """A channel as the fake sees it; `messages` are in posting order."""

    id: str
    name: str
    private: bool = False
    archived: bool = False
    member: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The channel object Slack returns from conversations.* methods."""
        return {
            "id": self.id,
            "name": self.name,
            "is_private": self.private,
            "is_archived": self.archived,
            "is_member": self.member,
            "is_channel": not self.private,
            "is_group": self.private,
        }


class ApiError(Exception):
    """An `ok: false` answer; `extra` fields are merged into the body."""

    def __init__(
        self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.reply: Reply = (status, {"ok": False, "error": error, **extra}, headers or {})


class Workspace:
    """What every part of FakeSlack shares, and the channel helpers tests use.

    FakeSlack is assembled from mixins (the Web API methods, faults, Socket Mode), all based on
    this class; FakeSlack.__init__ sets every attribute they declare. Handler threads change the
    state with `_lock` held and notify `_changed` when tests may be waiting for it.
    """

    scopes: set[str]
    channels: dict[str, FakeChannel]
    _lock: threading.Lock
    _changed: threading.Condition  # on _lock
    _stopping: threading.Event  # wakes handlers sleeping for latency / slow_after
    _server: ThreadingHTTPServer | None  # while started

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The base_url for slack-sdk's WebClient."""
        return f"{self.origin}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A slash-command response URL whose JSON POSTs land in `responses`."""
        return f"{self.origin}/response/{key}"

    def add_channel(
        self, name: str, *, private: bool = False, archived: bool = False, member: bool = True
    ) -> str:
        """Create a channel (name without '#') and return its id: C0000001, or G... if private."""
        with self._lock:
            if any(c.name == name for c in self.channels.values()):
                raise ValueError(f"channel name taken: {name}")
            cid = f"{'G' if private else 'C'}{len(self.channels) + 1:07d}"
            self.channels[cid] = FakeChannel(cid, name, private, archived, member)
            return cid

    def channel_id(self, name: str) -> str:
        """The id of the channel called `name` ('#news' or 'news'); KeyError if there is none."""
        with self._lock:
            return self._lookup(name, by_id=False).id

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Copies of every message stored in a channel (id, '#name' or 'name'), replies included,
        in posting order; KeyError for an unknown channel."""
        with self._lock:
            return copy.deepcopy(self._lookup(channel, by_id=True).messages)

    def _lookup(self, ref: str, *, by_id: bool) -> FakeChannel:
        if by_id and ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no such channel: {ref}")
