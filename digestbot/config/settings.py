"""What digestbot reads from the environment (`Settings`): the only reader of the environment.

Errors name the variable and never show a secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digestbot.errors import ConfigError

DEFAULT_CONFIG = Path("config/digestbot.yaml")
DEFAULT_DATABASE_URL = "sqlite:///digestbot.db"
DASHBOARD_TOKEN_MIN = 16  # a login credential: a shorter one can be guessed
# scheme://user:PASSWORD@host...: up to the last @, since a careless password holds @ or :.
_PASSWORD = re.compile(r"^[^:/]+://[^:/@]*:(.*)@[^@]*$")


class Settings(BaseSettings):
    """What digestbot reads from the environment."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    config_path: Path = Field(DEFAULT_CONFIG, validation_alias="DIGESTBOT_CONFIG")
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DIGESTBOT_DATABASE_URL", "DATABASE_URL"),
    )
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    port: int | None = Field(None, validation_alias="PORT", ge=1, le=65535)
    cache_home: Path | None = Field(None, validation_alias="XDG_CACHE_HOME")
    slack_client_id: str | None = Field(None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, validation_alias="SLACK_CLIENT_SECRET")
    dashboard_token: SecretStr | None = Field(None, validation_alias="DIGESTBOT_DASHBOARD_TOKEN")

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "dashboard_token",
    )
    @classmethod
    def _clean_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        # Secrets mounted from files often end in a newline, which HTTP headers refuse.
        if secret is None:
            return None
        value = secret.get_secret_value().strip()
        if not value or any(char.isspace() or not char.isprintable() for char in value):
            raise ValueError("must be one word without spaces or control characters")
        return SecretStr(value)

    @field_validator("dashboard_token")
    @classmethod
    def _long_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < DASHBOARD_TOKEN_MIN:
            raise ValueError(
                f"too short to keep the dashboard closed: use {DASHBOARD_TOKEN_MIN} characters "
                "or more (`openssl rand -hex 16` makes one)"
            )
        return token

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        # Heroku hands out postgres://, which SQLAlchemy 2 rejects; plain postgresql:// would
        # pick psycopg2, but the [postgres] extra installs psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    def many_workspaces(self) -> bool:
        """Whether the app is installed in many workspaces ("Add to Slack") rather than posting
        with SLACK_BOT_TOKEN. Client credentials without the rest never switch that on silently:
        what is missing is named."""
        if self.slack_bot_token is not None:
            return False  # the client credentials only serve the dashboard's sign in
        if self.slack_client_id is None and self.slack_client_secret is None:
            return False
        wanted = {
            "SLACK_CLIENT_ID": self.slack_client_id,
            "SLACK_CLIENT_SECRET": self.slack_client_secret,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        missing = [name for name, value in wanted.items() if value is None]
        if missing:
            raise ConfigError(
                f"installing the app in many workspaces needs {', '.join(missing)} too "
                "(or set SLACK_BOT_TOKEN to post to one workspace)"
            )
        return True

    def check_transports(self) -> None:
        """Refuse to start /digest over a transport whose secrets are missing, naming the
        variable."""
        many = self.many_workspaces()  # names what OAuth lacks, if it is half set
        wanted = self.port is not None or self.slack_app_token is not None
        if wanted and self.slack_bot_token is None and not many:
            raise ConfigError("SLACK_BOT_TOKEN is not set: the /digest command needs the bot token")
        if self.slack_app_token is not None:
            if not self.slack_app_token.get_secret_value().startswith("xapp-"):
                raise ConfigError(
                    "SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)"
                )
        elif self.port is not None and self.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: /digest over HTTP (PORT is set) needs the app's "
                "signing secret to verify requests"
            )

    def secrets(self) -> list[str]:
        """Every secret value, so that logs can blank them out: the tokens, the signing
        secret, and the database URL's password (with its pieces, should a parser split it
        at a raw @ or :)."""
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.dashboard_token,
        )
        found = [value.get_secret_value() for value in values if value is not None]
        password = _PASSWORD.match(self.database_url)
        if password and password.group(1):
            whole = password.group(1)
            pieces = re.split(r"[@:/]", whole) if re.search(r"[@:/]", whole) else []
            found += [whole, *(piece for piece in pieces if len(piece) >= 4)]
        return found

    @property
    def sqlite_file(self) -> Path | None:
        """The state store's file, when it is SQLite on disk."""
        prefix = "sqlite:///"
        path = self.database_url[len(prefix) :].split("?")[0]
        if not self.database_url.startswith(prefix) or path in ("", ":memory:"):
            return None
        return Path(path)

    @property
    def cache_dir(self) -> Path:
        return (self.cache_home or Path.home() / ".cache") / "digestbot"


def stand_in_origin(api_url: str) -> str | None:
    """`scheme://host` of what SLACK_API_URL points at when it is not Slack (a stand-in, as in
    tests), whose pages then take the place of Slack's; None for Slack itself."""
    parts = urlsplit(api_url)
    if parts.hostname in (None, "slack.com"):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def load_settings() -> Settings:
    """Read the environment; a bad value is a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{_env_name(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in error.errors(include_input=False)
        )
        raise ConfigError(f"environment: {problems}") from None


def _env_name(loc: tuple[Any, ...]) -> str:
    field = Settings.model_fields.get(str(loc[0])) if loc else None
    alias = field.validation_alias if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias or (loc[0] if loc else "?"))
