"""The workspaces the fake stands for: their ids, people, tokens and channels, and Slack's error
answer. The default workspace T0001 (bot token `FakeSlack.token`) is always there."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0001", "U0BOT", "B0001", "A0001"
TEAM_NAME, TEAM_DOMAIN = "Fake Workspace", "fake-workspace"
USER_ID, USER_NAME, USER_EMAIL = "U0ALICE", "Alice Example", "alice@fake-workspace.example"
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

# (status, body, extra headers); a str body is sent as text/plain (response URLs answer "ok"),
# bytes as they are; a Content-Type among the headers replaces the default one.
Reply = tuple[int, dict[str, Any] | str | bytes, dict[str, str]]


@dataclass
class FakeChannel:
    """A channel as the fake sees it; `messages` are in posting order."""

    id: str
    name: str
    private: bool = False
    archived: bool = False
    member: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)
    team: str = TEAM_ID

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
            "context_team_id": self.team,
        }


@dataclass
class FakeUser:
    """A person in a workspace, who can sign in with Slack and install the app."""

    id: str
    team: str
    name: str  # the full name, e.g. "Alice Example"
    email: str


@dataclass
class FakeTeam:
    """A workspace: its name and domain, the app's bot user in it, and its people by id."""

    id: str
    name: str
    domain: str
    bot_user_id: str
    bot_id: str
    users: dict[str, FakeUser] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The workspace URL auth.test answers."""
        return f"https://{self.domain}.slack.com/"


@dataclass
class FakeToken:
    """An issued token: its kind ("bot", "user" or "app"), whose it is and what it may do."""

    value: str
    kind: str
    team: str
    user: str  # the bot user of a bot token, the person of a user token
    scopes: set[str]
    expires_at: float | None = None  # on FakeSlack.clock; None: never expires
    revoked: bool = False


class ApiError(Exception):
    """An `ok: false` answer; `extra` fields are merged into the body."""

    def __init__(
        self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.reply: Reply = (status, {"ok": False, "error": error, **extra}, headers or {})


class Workspace:
    """What every part of FakeSlack shares, and the channel helpers tests use.

    FakeSlack is assembled from mixins (the Web API methods, faults, Socket Mode, OAuth), all
    based on this class; FakeSlack.__init__ sets every attribute they declare. Handler threads
    change the state with `_lock` held and notify `_changed` when tests may be waiting for it.
    """

    channels: dict[str, FakeChannel]  # every workspace's channels by id (ids are unique)
    teams: dict[str, FakeTeam]  # every workspace by id, the default one first
    tokens: dict[str, FakeToken]  # every token issued, by value (bot, user and app tokens)
    clock: Callable[[], float]  # epoch seconds for token and code expiry; tests may move it
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
        self,
        name: str,
        *,
        private: bool = False,
        archived: bool = False,
        member: bool = True,
        team: str = TEAM_ID,
    ) -> str:
        """Create a channel (name without '#') in workspace `team` and return its id: C0000001,
        or G... if private. Ids are unique across workspaces; names only within one."""
        with self._lock:
            if team not in self.teams:
                raise KeyError(f"no such workspace: {team}")
            if any(c.name == name and c.team == team for c in self.channels.values()):
                raise ValueError(f"channel name taken in {team}: {name}")
            cid = f"{'G' if private else 'C'}{len(self.channels) + 1:07d}"
            self.channels[cid] = FakeChannel(cid, name, private, archived, member, team=team)
            return cid

    def channel_id(self, name: str, team: str | None = None) -> str:
        """The id of the channel called `name` ('#news' or 'news') in workspace `team` (default:
        T0001); KeyError if there is none."""
        with self._lock:
            return self._lookup(name, by_id=False, team=team).id

    def messages_in(self, channel: str, team: str | None = None) -> list[dict[str, Any]]:
        """Copies of every message stored in a channel (an id, or '#name'/'name' in workspace
        `team`, default T0001), replies included, in posting order; KeyError for an unknown
        channel, or an id of another workspace than a given `team`."""
        with self._lock:
            return copy.deepcopy(self._lookup(channel, by_id=True, team=team).messages)

    def _lookup(self, ref: str, *, by_id: bool, team: str | None) -> FakeChannel:
        channel = self.channels.get(ref) if by_id else None
        if channel is None:
            name = ref.removeprefix("#")
            wanted = team or TEAM_ID
            found = (c for c in self.channels.values() if c.name == name and c.team == wanted)
            channel = next(found, None)
        if channel is None or (team is not None and channel.team != team):
            raise KeyError(f"no such channel: {ref}")
        return channel
