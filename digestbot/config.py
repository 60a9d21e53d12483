"""The input of every step: the environment (`Settings`) and the YAML config (`Config`).

This is the only module that reads the environment. Errors name the variable, or the file and
the key (`digests.ai-daily.schedule`), and never show a secret.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, YamlConfigSettingsSource

from digestbot import crontab
from digestbot.errors import ConfigError

DEFAULT_CONFIG = Path("config/digestbot.yaml")
DEFAULT_DATABASE_URL = "sqlite:///digestbot.db"
DEFAULT_CATCH_UP = timedelta(hours=1)
_DURATION = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_DIGEST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


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

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token")
    @classmethod
    def _clean_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        # Secrets mounted from files often end in a newline, which HTTP headers refuse.
        if secret is None:
            return None
        value = secret.get_secret_value().strip()
        if not value or any(char.isspace() or not char.isprintable() for char in value):
            raise ValueError("must be one word without spaces or control characters")
        return SecretStr(value)

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        # Heroku hands out postgres://, which SQLAlchemy 2 rejects; plain postgresql:// would
        # pick psycopg2, but the [postgres] extra installs psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    def secrets(self) -> list[str]:
        """Every secret value, so that logs can blank them out."""
        values = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
        return [value.get_secret_value() for value in values if value is not None]

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


def parse_duration(value: object) -> timedelta:
    """'2d', '36h', '1h30m', '1w' -> timedelta."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if not text or _DURATION.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration; write it like 2d, 36h, 90m or 1h30m")
    parts: dict[str, int] = {}
    for amount, unit in _DURATION.findall(text):
        parts[_UNITS[unit]] = parts.get(_UNITS[unit], 0) + int(amount)
    return timedelta(**parts)


def timezone(name: str) -> tzinfo:
    """The IANA timezone called `name`, or a ValueError that says what to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin or UTC"
        ) from None


def _check_timezone(name: str | None) -> str | None:
    if name is not None:
        timezone(name)
    return name


def _check_schedule(expression: str | None) -> str | None:
    if expression is None:
        return None
    try:
        crontab.parse(str(expression))
    except crontab.CrontabError as error:
        raise ValueError(f"{expression!r}: {error}") from None
    return " ".join(str(expression).split())


def _check_names(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values]
    if not all(cleaned):
        raise ValueError("an entry is empty")
    return cleaned


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
TimezoneName = Annotated[str | None, BeforeValidator(_check_timezone)]
Schedule = Annotated[str | None, BeforeValidator(_check_schedule)]
Names = Annotated[list[str], Field(min_length=1), BeforeValidator(_check_names)]


class DigestConfig(BaseModel):
    """One digest: which topics, where, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    title: str | None = None
    topics: Names
    channels: Names
    schedule: Schedule = None
    timezone: TimezoneName = None
    top: int = Field(5, ge=1, le=50)
    max_age: Duration | None = None
    catch_up: Duration = DEFAULT_CATCH_UP

    @field_validator("channels")
    @classmethod
    def _no_spaces(cls, channels: list[str]) -> list[str]:
        for channel in channels:
            if any(char.isspace() for char in channel):
                raise ValueError(f"{channel!r} is not a channel name or ID")
        return channels

    @property
    def heading(self) -> str:
        return self.title or self.name


class SlashConfig(BaseModel):
    """Who may post digests with /digest (empty: everyone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_users: list[str] = []
    allowed_channels: list[str] = []


class Config(BaseSettings):
    """The YAML config file, validated."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    articles: Path
    timezone: str = "UTC"
    digests: dict[str, DigestConfig]
    slash: SlashConfig = SlashConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Only the YAML file (passed in as init values): the environment is Settings' business.
        return (init_settings,)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, name: str) -> str:
        timezone(name)
        return name

    @field_validator("digests", mode="before")
    @classmethod
    def _named(cls, digests: Any) -> Any:
        # Each digest learns its own name, which is its key and never a key inside it.
        if not isinstance(digests, dict):
            return digests
        named = {}
        for name, body in digests.items():
            if not _DIGEST_NAME.fullmatch(str(name)):
                raise ValueError(f"{name!r} is not a digest name (letters, digits, - _ .)")
            if isinstance(body, dict):
                if "name" in body:
                    raise ValueError(f"{name}.name: unknown key (the digest's name is its key)")
                body = {**body, "name": str(name)}
            named[str(name)] = body
        return named

    def digest_timezone(self, digest: DigestConfig) -> tzinfo:
        return timezone(digest.timezone or self.timezone)

    def pick(self, names: list[str] | tuple[str, ...] = ()) -> list[DigestConfig]:
        """The named digests in the order asked (all of them when none is named)."""
        if not names:
            return list(self.digests.values())
        unknown = [name for name in names if name not in self.digests]
        if unknown:
            known = ", ".join(self.digests) or "none"
            raise ConfigError(f"no digest called {', '.join(unknown)} (configured: {known})")
        return [self.digests[name] for name in names]


def load_config(path: Path) -> Config:
    """Read and validate the config file; errors name the file and the key."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: config file not found (set DIGESTBOT_CONFIG or create {DEFAULT_CONFIG})"
        )
    data = _read_yaml(path)
    try:
        config = Config(**data)
    except ValidationError as error:
        raise ConfigError(f"{path}: {_describe(error)}") from None
    if not config.articles.is_absolute():
        config = config.model_copy(update={"articles": (path.parent / config.articles).resolve()})
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = YamlConfigSettingsSource(Config, yaml_file=path)()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (ValueError, UnicodeDecodeError, OSError) as error:
        raise ConfigError(f"{path}: cannot be read as a config mapping: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys")
    return data


def _describe(error: ValidationError) -> str:
    return "; ".join(_describe_one(err) for err in error.errors(include_input=False))


def _describe_one(err: Any) -> str:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(loc)}"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    return f"{key}: {message}"


def _suggestion(loc: list[str]) -> str:
    fields = DigestConfig.model_fields if len(loc) == 3 and loc[0] == "digests" else None
    if fields is None:
        fields = SlashConfig.model_fields if loc[:1] == ["slash"] else Config.model_fields
    close = difflib.get_close_matches(loc[-1], [f for f in fields if f != "name"], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
