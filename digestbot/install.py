"""Add to Slack: the app installed in many workspaces through Bolt's OAuth flow.

The front door serves `GET /slack/install` (the "Add to Slack" page) and
`GET /slack/oauth_redirect` (where Slack sends the installer back); installations and the OAuth
states are kept in the ledger's database by slack-sdk's SQLAlchemy stores. Requests from Slack
(the /digest command, events) are authorized with their workspace's token from `Workspaces`,
which refreshes a rotating token under its lease, as scheduled runs do. `app_uninstalled` and
`tokens_revoked` forget the workspace, unless it was installed again after the event.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from digestbot.config import Settings
from digestbot.config.settings import stand_in_origin
from digestbot.errors import DeliveryError
from digestbot.workspaces import Workspaces

log = logging.getLogger(__name__)

# What the app asks each workspace for: the bot scopes of config/slack-app-manifest.yaml.
BOT_SCOPES = [
    "chat:write",
    "chat:write.public",
    "channels:join",
    "channels:read",
    "channels:history",
    "groups:read",
    "groups:history",
    "commands",
]
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # how long an "Add to Slack" click may take to come back
SLACK_AUTHORIZE = "https://slack.com/oauth/v2/authorize"


def oauth_settings(settings: Settings, workspaces: Workspaces) -> OAuthSettings:
    """Bolt's OAuth flow, storing in the ledger's database (never in files)."""
    secret = settings.slack_client_secret
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scopes=BOT_SCOPES,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(settings.slack_api_url),
        installation_store=workspaces.installations.store,
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_SECONDS,
            engine=workspaces.ledger.engine,
            logger=logging.getLogger("slack_sdk.oauth"),
        ),
        state_expiration_seconds=STATE_SECONDS,
        logger=logging.getLogger("slack_bolt"),
    )


def authorize_url(api_url: str) -> str:
    """Slack's authorize page, or the one beside SLACK_API_URL when that points elsewhere."""
    origin = stand_in_origin(api_url)
    return f"{origin}/oauth/v2/authorize" if origin else SLACK_AUTHORIZE


class WorkspaceAuthorize(Authorize):
    """Authorizes Slack's requests with the workspace's token, refreshed as runs refresh it
    (one lease per workspace), instead of Bolt's own rotation beside it."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_: Any,
    ) -> AuthorizeResult | None:
        team = team_id or enterprise_id
        if not team:
            return None
        try:
            bot = self.workspaces.installations.usable(team)
        except DeliveryError as error:
            log.warning("request not authorized team=%s reason=%r", team, str(error))
            return None
        return AuthorizeResult(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )


def listen_for_uninstalls(app: App, workspaces: Workspaces) -> None:
    """Stop a workspace's digests when the app leaves it (Slack sends both events)."""

    def forget(body: dict[str, Any]) -> None:
        team = str(body.get("team_id") or body.get("enterprise_id") or "")
        if team:
            workspaces.uninstalled(team, _happened(body))

    def revoked(body: dict[str, Any]) -> None:
        tokens = (body.get("event") or {}).get("tokens") or {}
        if tokens.get("bot"):  # user tokens alone leave the bot, and its digests, in place
            forget(body)

    app.event("app_uninstalled")(forget)
    app.event("tokens_revoked")(revoked)


def _happened(body: dict[str, Any]) -> float:
    """When the event happened: its event_ts (to the microsecond), else its event_time."""
    event = body.get("event") or {}
    for stamp in (event.get("event_ts"), body.get("event_time")):
        try:
            return float(stamp)
        except (TypeError, ValueError):
            continue
    return 0.0
