"""Installing the app without a browser: the fake Slack issues a workspace's tokens, and the
installation is stored as Bolt's OAuth flow stores it, in slack-sdk's SQLAlchemy store (whose
tables digestbot's ledger creates)."""

from __future__ import annotations

from fakeslack import FakeSlack
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine


def store_install(fake: FakeSlack, engine: Engine, team: str) -> Installation:
    """Install the app in `team` and store the installation: what oauth.v2.access answered
    (with the refresh token and expiry when token rotation is on)."""
    answer = fake.install(team)
    installation = Installation(
        app_id=answer["app_id"],
        team_id=team,
        team_name=answer["team"]["name"],
        bot_token=answer["access_token"],
        bot_id=fake.teams[team].bot_id,
        bot_user_id=answer["bot_user_id"],
        bot_scopes=answer["scope"],
        bot_refresh_token=answer.get("refresh_token"),
        bot_token_expires_in=answer.get("expires_in"),
        user_id=answer["authed_user"]["id"],
        token_type="bot",
    )
    SQLAlchemyInstallationStore(fake.client_id, engine).save(installation)
    return installation
