"""The ways into the dashboard: Sign in with Slack (OpenID Connect), a token, or the one-time
token `digestbot dashboard` prints. Never open by default: with none of them, there is no
dashboard.

Sign in with Slack sends the browser to Slack's authorize page (slack-sdk's
`OpenIDConnectAuthorizeUrlGenerator`), then exchanges the code with `openid.connect.token` and
asks `openid.connect.userInfo` who it is: no id_token is decoded unverified. Only members of the
bot's own workspace get in, and `dashboard.allowed_users` may narrow that further.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import OpenIDConnectAuthorizeUrlGenerator

from digestbot.config.settings import stand_in_origin
from digestbot.web.session import same

SCOPES = ["openid", "email", "profile"]
REDIRECT_PATH = "/slack/oidc_redirect"
SLACK_AUTHORIZE = "https://slack.com/openid/connect/authorize"


@dataclass(frozen=True)
class Identity:
    """Who signed in."""

    user: str
    name: str
    team: str | None


class Refused(Exception):
    """A sign-in that did not work; the message says why, for the login page."""


class TokenLogin:
    """A secret typed into the login form (DIGESTBOT_DASHBOARD_TOKEN), or the one-time token
    of `digestbot dashboard`, which works once."""

    def __init__(self, token: str, *, once: bool = False) -> None:
        self._token = token
        self._once = once
        self._used = False
        self._lock = threading.Lock()

    @classmethod
    def one_time(cls) -> TokenLogin:
        return cls(secrets.token_urlsafe(24), once=True)

    @property
    def token(self) -> str:
        return self._token

    def check(self, given: str | None) -> Identity:
        with self._lock:
            if self._used or not same(given, self._token):
                raise Refused("that token is not right (or was used already)")
            self._used = self._once
        return Identity("token", "dashboard token", None)


class SlackSignIn:
    """Sign in with Slack, for members of the bot's workspaces (and, if listed, only those
    users)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        api_url: str,
        teams: Callable[[], Collection[str]],
        allowed_users: Callable[[], list[str]],
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._client = WebClient(base_url=api_url)
        self._authorize = _authorize_url(api_url)
        self.teams = teams  # read at each sign-in, as workspaces are installed and removed
        self.allowed_users = allowed_users  # read at each sign-in: config edits apply at once

    def authorize_url(self, redirect_uri: str, state: str, nonce: str) -> str:
        generator = OpenIDConnectAuthorizeUrlGenerator(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scopes=SCOPES,
            authorization_url=self._authorize,
        )
        return generator.generate(state=state, nonce=nonce)

    def finish(self, code: str, redirect_uri: str) -> Identity:
        """Who the code belongs to, if they may come in."""
        try:
            token = self._client.openid_connect_token(
                client_id=self.client_id,
                client_secret=self._client_secret,
                code=code,
                redirect_uri=redirect_uri,
            )
            info = self._client.openid_connect_userInfo(token=token["access_token"])
        except SlackApiError as error:
            raise Refused(f"Slack refused the sign-in ({error.response.get('error')})") from None
        except (OSError, KeyError, ValueError):
            raise Refused("Slack could not be reached to finish the sign-in") from None
        user = str(info.get("https://slack.com/user_id") or info.get("sub") or "")
        team = str(info.get("https://slack.com/team_id") or "")
        if team not in self.teams():
            raise Refused("only members of the bot's own workspaces may sign in")
        allowed = self.allowed_users()
        if allowed and user not in allowed:
            raise Refused("you are not among dashboard.allowed_users")
        return Identity(user, str(info.get("name") or user), team)


def _authorize_url(api_url: str) -> str:
    """Slack's authorize page, or the one beside SLACK_API_URL when that points elsewhere."""
    origin = stand_in_origin(api_url)
    return f"{origin}/openid/connect/authorize" if origin else SLACK_AUTHORIZE
