"""FakeSlack itself: its settings and records, starting and stopping, and the dispatch of Web
API methods and pages."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from .chat import BLOCK_TEXT_LIMIT, TEXT_LIMIT, Chat
from .conversations import Conversations
from .faults import FAIL_MODES
from .handler import Server
from .openid import OpenId
from .socketmode import SocketMode
from .workspace import (
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_SCOPES,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    USER_EMAIL,
    USER_ID,
    USER_NAME,
    ApiError,
    FakeTeam,
    FakeToken,
    FakeUser,
    Reply,
)

CLIENT_ID = "0000000000.fake-client-id"  # the app's OAuth credentials: test values only
CLIENT_SECRET = "fake-client-secret-for-tests"
# The OAuth methods, kept in oauth_calls too.
OAUTH_METHODS = frozenset(
    {"oauth.v2.access", "openid.connect.token", "openid.connect.userInfo", "apps.uninstall"}
)

Method = Callable[[dict[str, Any], FakeToken], dict[str, Any]]  # params, caller -> answer fields
ClientMethod = Callable[[dict[str, Any], str], dict[str, Any]]  # params, Authorization -> fields
Page = Callable[[dict[str, Any]], Reply]  # a page of slack.com: params -> reply


class FakeSlack(Chat, Conversations, SocketMode, OpenId):
    """A fake Slack, with one app in any number of workspaces, served over HTTP; see the package
    docstring."""

    def __init__(
        self,
        *,
        token: str = "xoxb-fake-token",
        app_token: str = "xapp-1-fake-app-token",
        latency: float = 0.0,
        seed: int = 0,
        scopes: set[str] | None = None,
        channel_rate: float | None = None,
        channel_burst: int = 3,
        workspace_per_minute: int | None = None,
        workspace_burst: int = 10,
    ) -> None:
        # Each mixin declares, with its meaning, every attribute set for it here.
        # Workspace
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = None
        self.channels = {}
        team = FakeTeam(TEAM_ID, TEAM_NAME, TEAM_DOMAIN, BOT_USER_ID, BOT_ID)
        team.users[USER_ID] = FakeUser(USER_ID, TEAM_ID, USER_NAME, USER_EMAIL)
        self.teams = {TEAM_ID: team}
        bot_scopes = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.tokens = {
            token: FakeToken(token, "bot", TEAM_ID, BOT_USER_ID, bot_scopes),
            app_token: FakeToken(app_token, "app", "", "", set()),
        }
        self.clock = time.time
        # WebApi
        self.token, self.app_token = token, app_token  # the default bot token has `scopes`
        # Teams
        self._rotation = None
        self._refresh_tokens = {}
        self._serial = 0
        # OAuth
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.redirect_urls = []
        self.oauth_calls = []
        self._signed_in = (USER_ID, TEAM_ID)
        self._deny_next = False
        self._codes = {}
        # Chat
        self.broken_images = set()
        self.text_limit, self.block_text_limit = TEXT_LIMIT, BLOCK_TEXT_LIMIT
        self.posts = []
        self.ephemerals = []
        self._last_ts_us = 0
        # Faults
        self.fail_rate = 0.0
        self.fail_modes = FAIL_MODES
        self.fail_methods = None
        self.slow_seconds = 5.0
        self.calls = []
        self._random = random.Random(seed)
        self._injected = {}
        self._answers = []
        self._channel_rate, self._channel_burst = channel_rate, channel_burst
        self._channel_buckets = {}
        self._workspace_rate = (
            (workspace_per_minute / 60, workspace_burst) if workspace_per_minute else None
        )
        self._workspace_buckets = {}
        self._team_rates = {}
        # SocketMode
        self.socket_acks = []
        self.socket_ping_interval = 0.1
        self._sockets = []
        self._socket_urls = 0
        self._pinger = None
        # FakeSlack's own
        self.latency = latency  # seconds added to every request
        self.responses: list[dict[str, Any]] = []  # response URL posts, with their key
        self.errors: list[BaseException] = []  # bugs in the fake itself (answered with HTTP 500)
        # Called with each accepted post in its handler thread, before the client is answered.
        self.on_post: Callable[[dict[str, Any]], None] | None = None
        self._thread: threading.Thread | None = None  # serving HTTP while started

    # lifecycle

    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket, then close every WebSocket connection
        (close frame 1001, and a hang-up if the client does not leave within CLOSE_WAIT seconds)
        and wait for their threads; safe to call twice."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # first, so a reconnecting client is refused at once
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None
        self._close_sockets()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # dispatch (called from handler threads)

    def _methods(self) -> dict[str, Method]:
        """The methods taking a token, which run in the token's workspace."""
        return {
            "auth.test": self._auth_test,
            "apps.uninstall": self._apps_uninstall,
            "openid.connect.userInfo": self._openid_userinfo,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.list": self._conversations_list,
            "conversations.join": self._conversations_join,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
        }

    def _client_methods(self) -> dict[str, ClientMethod]:
        """The methods taking the app's client credentials instead of a token."""
        return {
            "oauth.v2.access": self._oauth_v2_access,
            "openid.connect.token": self._openid_token,
        }

    def _page(self, path: str) -> Page | None:
        """The page of slack.com at `path`, if the fake has it."""
        if path.startswith("/avatars/"):
            return self._avatar
        pages = {
            "/oauth/v2/authorize": self._oauth_authorize,
            "/openid/connect/authorize": self._openid_authorize,
            "/openid/connect/keys": self._keys,
        }
        return pages.get(path)

    def _call_api(self, method: str, params: dict[str, Any], authorization: str) -> Reply:
        if method not in self._methods() and method not in self._client_methods():
            return 200, {"ok": False, "error": "unknown_method"}, {}
        post, error = None, None
        with self._lock:
            try:
                body = self._dispatch(method, params, authorization)
                post = self.posts[-1] if method == "chat.postMessage" else None
                reply: Reply = (200, {"ok": True, **body}, {})
            except ApiError as err:
                reply, error = err.reply, str(err)
            if method in OAUTH_METHODS:
                self._record(method, params, error, authorization)
        if post is not None and self.on_post is not None:
            self.on_post(post)  # outside the lock, so the callback may use the fake
        return reply

    def _dispatch(self, method: str, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        client_method = self._client_methods().get(method)
        if client_method is not None:
            return client_method(params, authorization)
        token = self._authenticate(method, params, authorization)
        return self._methods()[method](params, token)

    def _record_response(self, key: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.responses.append({**body, "key": key})
            self._changed.notify_all()
        return 200, "ok", {}

    def _run(self, action: Callable[[], Reply]) -> Reply:
        """Run a request; a bug in the fake becomes an HTTP 500 and is kept in `errors`."""
        try:
            return action()
        except Exception as exc:  # the server thread must answer something
            self.errors.append(exc)
            return 500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}, {}
