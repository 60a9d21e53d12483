"""What every Web API method shares: token and scope checks, channel access, parameter parsing."""

from __future__ import annotations

import json
from typing import Any

from .workspace import BOT_ID, BOT_USER_ID, TEAM_ID, ApiError, FakeChannel, Workspace


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
    """The checks the methods share (all run with `_lock` held), and auth.test."""

    token: str  # the bot token
    app_token: str  # the app-level token, for apps.connections.open only
    revoked: bool  # every bot-token call answers token_revoked

    @staticmethod
    def _token(params: dict[str, Any], authorization: str) -> str:
        token = params.get("token") or authorization.removeprefix("Bearer ").strip()
        if not token:
            raise ApiError("not_authed")
        return str(token)

    def _authenticate(self, params: dict[str, Any], authorization: str) -> None:
        token = self._token(params, authorization)
        if token == self.app_token:
            raise ApiError("not_allowed_token_type")
        if token != self.token:
            raise ApiError("invalid_auth")
        if self.revoked:
            raise ApiError("token_revoked")

    def _authenticate_app(self, params: dict[str, Any], authorization: str) -> None:
        """apps.connections.open takes only the app-level token."""
        token = self._token(params, authorization)
        if token == self.token:
            raise ApiError("not_allowed_token_type")
        if token != self.app_token:
            raise ApiError("invalid_auth")

    def _need(self, scope: str) -> None:
        if scope not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            raise ApiError("missing_scope", needed=scope, provided=provided)

    def _visible(self, ref: Any, *, by_name: bool) -> FakeChannel:
        """The channel for an id (or '#name'/'name' if by_name); hidden private ones are 404s."""
        ref = str(ref or "")
        channel = self.channels.get(ref)
        if channel is None and by_name:
            name = ref.removeprefix("#")
            channel = next((c for c in self.channels.values() if c.name == name), None)
        if channel is None or (channel.private and not channel.member):
            raise ApiError("channel_not_found")
        return channel

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "digestbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
