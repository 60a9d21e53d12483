"""What every Web API method shares: token and scope checks, channel access, parameter parsing,
and auth.test."""

from __future__ import annotations

import json
from typing import Any

from .workspace import ApiError, FakeChannel, FakeToken, Workspace

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})  # the methods taking the app token


def flag(value: Any) -> bool | None:
    """Slack's booleans: JSON true, or "true"/"1" in form and query encodings."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")


def json_field(value: Any, error: str) -> Any:
    """Form encoding sends structured fields (blocks, metadata) as JSON strings."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(error) from None


class WebApi(Workspace):
    """The checks the methods share (all run with `_lock` held), and auth.test.

    Each method gets the caller's token and acts in that token's workspace.
    """

    token: str  # the default bot token, of workspace T0001
    app_token: str  # the app-level token, for apps.connections.open only

    @property
    def scopes(self) -> set[str]:
        """The default bot token's scopes: change them in place, or assign a new set."""
        return self.tokens[self.token].scopes

    @scopes.setter
    def scopes(self, value: set[str]) -> None:
        self.tokens[self.token].scopes = set(value)

    @property
    def revoked(self) -> bool:
        """Whether the default bot token is revoked; set it to make its calls answer
        token_revoked (`revoke(team_id)` revokes every token of a workspace)."""
        return self.tokens[self.token].revoked

    @revoked.setter
    def revoked(self, value: bool) -> None:
        self.tokens[self.token].revoked = value

    @staticmethod
    def _token(params: dict[str, Any], authorization: str) -> str:
        token = params.get("token") or authorization.removeprefix("Bearer ").strip()
        if not token:
            raise ApiError("not_authed")
        return str(token)

    def _authenticate(self, method: str, params: dict[str, Any], authorization: str) -> FakeToken:
        """The caller's token, if it exists, suits the method, and is neither revoked nor
        expired."""
        token = self.tokens.get(self._token(params, authorization))
        if token is None:
            raise ApiError("invalid_auth")
        if (token.kind == "app") != (method in APP_TOKEN_METHODS):
            raise ApiError("not_allowed_token_type")
        if token.revoked:
            raise ApiError("token_revoked")
        if token.expires_at is not None and self.clock() >= token.expires_at:
            raise ApiError("token_expired")
        return token

    @staticmethod
    def _need(token: FakeToken, scope: str) -> None:
        if scope not in token.scopes:
            provided = ",".join(sorted(token.scopes))
            raise ApiError("missing_scope", needed=scope, provided=provided)

    def _visible(self, ref: Any, *, by_name: bool, team: str) -> FakeChannel:
        """The channel of workspace `team` for an id (or '#name'/'name' if by_name); hidden
        private ones and other workspaces' are channel_not_found."""
        ref = str(ref or "")
        channel = self.channels.get(ref)
        if channel is None and by_name:
            name = ref.removeprefix("#")
            found = (c for c in self.channels.values() if c.name == name and c.team == team)
            channel = next(found, None)
        if channel is None or channel.team != team or (channel.private and not channel.member):
            raise ApiError("channel_not_found")
        return channel

    def _auth_test(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        """Who the token is: the app's bot user in its workspace, or a person."""
        team = self.teams[token.team]
        answer = {
            "url": team.url,
            "team": team.name,
            "team_id": team.id,
            "user_id": token.user,
            "is_enterprise_install": False,
        }
        if token.kind == "bot":
            return {**answer, "user": "digestbot", "bot_id": team.bot_id}
        return {**answer, "user": team.users[token.user].email.split("@")[0]}
