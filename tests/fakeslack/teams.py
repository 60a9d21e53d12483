"""Many workspaces: adding them and their people, installing the app (issuing tokens, which
expire when token rotation is on), revoking them, and the Events API envelopes Slack sends an
app about its installs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .workspace import APP_ID, DEFAULT_SCOPES, TEAM_ID, FakeTeam, FakeToken, FakeUser, Workspace

VERIFICATION_TOKEN = "fake-verification-token"  # the deprecated `token` of event envelopes
TOKEN_PREFIXES = {"bot": "xoxb", "user": "xoxp"}


class Teams(Workspace):
    """Workspaces, people and tokens; every method here takes `_lock` or runs with it held."""

    _rotation: int | None  # expires_in of newly issued tokens; None: token rotation is off
    _refresh_tokens: dict[str, tuple[str, FakeToken]]  # value -> (flow, the token it renews)
    _serial: int  # numbers tokens, codes and event ids

    def add_workspace(self, team_id: str, name: str, *, domain: str | None = None) -> str:
        """Add a workspace, without people or channels and without the app, and return its id.

        Its domain defaults to the name in lowercase with dashes; the app's bot user in it is
        U<n>BOT and its bot B<n>, where n is the id without its T (T0002: U0002BOT, B0002).
        """
        number = team_id.removeprefix("T")
        with self._lock:
            if team_id in self.teams:
                raise ValueError(f"workspace exists: {team_id}")
            domain = domain or "-".join(name.lower().split())
            self.teams[team_id] = FakeTeam(team_id, name, domain, f"U{number}BOT", f"B{number}")
        return team_id

    def add_user(self, team_id: str, user_id: str, name: str, email: str) -> str:
        """Add a person (full name, email) to a workspace and return their id."""
        with self._lock:
            self.teams[team_id].users[user_id] = FakeUser(user_id, team_id, name, email)
        return user_id

    def install(
        self, team_id: str, user_id: str | None = None, scopes: Iterable[str] = DEFAULT_SCOPES
    ) -> dict[str, Any]:
        """Install the app in a workspace without a browser: a new bot token with `scopes`,
        installed by `user_id` (default: the workspace's first person). Returns what
        oauth.v2.access would answer (access_token, and refresh_token and expires_in when
        token rotation is on)."""
        with self._lock:
            team = self.teams[team_id]
            installer = user_id or next(iter(team.users), None)
            if installer not in team.users:
                raise ValueError(f"no such person in {team_id}: {installer}")
            return self._installation(team_id, installer, set(scopes), set())

    def enable_token_rotation(self, expires_in: int = 43200) -> None:
        """Turn token rotation on: tokens issued from now on (xoxe.xoxb-..., xoxe.xoxp-...) come
        with a one-time refresh token and answer token_expired `expires_in` seconds later."""
        with self._lock:
            self._rotation = expires_in

    def revoke(self, team_id: str) -> None:
        """Revoke every token of a workspace, as uninstalling the app does: calls with them
        answer token_revoked, their refresh tokens invalid_refresh_token. A new install works."""
        with self._lock:
            self._revoke(team_id)

    def event_payload(self, kind: str, team_id: str = TEAM_ID, **event: Any) -> dict[str, Any]:
        """The Events API envelope Slack POSTs to the app's request URL for event `kind`, e.g.
        app_uninstalled or tokens_revoked (whose `tokens` default to the workspace's bot user:
        {"oauth": [], "bot": [U...BOT]}); `event` fields are added to, or replace, the event's.
        It only builds the payload: sign and send it yourself (and `revoke` the workspace, as
        Slack would have)."""
        with self._lock:
            team = self.teams[team_id]
            now = self.clock()
            body: dict[str, Any] = {"type": kind, "event_ts": f"{now:.6f}"}
            if kind == "tokens_revoked":
                body["tokens"] = {"oauth": [], "bot": [team.bot_user_id]}
            return {
                "token": VERIFICATION_TOKEN,
                "team_id": team_id,
                "api_app_id": APP_ID,
                "event": {**body, **event},
                "type": "event_callback",
                "event_id": f"Ev{self._next_serial():010d}",
                "event_time": int(now),
            }

    def _revoke(self, team_id: str) -> None:
        for token in self.tokens.values():
            if token.team == team_id:
                token.revoked = True
        for value, (_, token) in list(self._refresh_tokens.items()):
            if token.team == team_id:
                del self._refresh_tokens[value]

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _issue(
        self, flow: str, kind: str, team: str, user: str, scopes: set[str]
    ) -> dict[str, Any]:
        """A new bot or user token and, if rotation is on, its refresh token: the token fields
        of an oauth.v2.access or openid.connect.token answer."""
        prefix = TOKEN_PREFIXES[kind]
        if self._rotation is None:
            value, expires_at = f"{prefix}-fake-{team}-{self._next_serial()}", None
        else:
            value = f"xoxe.{prefix}-fake-{team}-{self._next_serial()}"
            expires_at = self.clock() + self._rotation
        token = FakeToken(value, kind, team, user, set(scopes), expires_at)
        self.tokens[value] = token
        if self._rotation is None:
            return {"access_token": value}
        refresh = f"xoxe-1-fake-{team}-{self._next_serial()}"
        self._refresh_tokens[refresh] = (flow, token)
        return {"access_token": value, "refresh_token": refresh, "expires_in": self._rotation}

    def _installation(
        self, team_id: str, installer: str, scopes: set[str], user_scopes: set[str]
    ) -> dict[str, Any]:
        """oauth.v2.access's answer for an install: a bot token if bot scopes were granted, and
        the installer's user token if user scopes were."""
        team = self.teams[team_id]
        answer: dict[str, Any] = {
            "app_id": APP_ID,
            "authed_user": {"id": installer},
            "team": {"id": team.id, "name": team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if scopes:
            answer.update(
                scope=",".join(sorted(scopes)),
                token_type="bot",
                bot_user_id=team.bot_user_id,
                **self._issue("oauth", "bot", team_id, team.bot_user_id, scopes),
            )
        if user_scopes:
            answer["authed_user"].update(
                scope=",".join(sorted(user_scopes)),
                token_type="user",
                **self._issue("oauth", "user", team_id, installer, user_scopes),
            )
        return answer
