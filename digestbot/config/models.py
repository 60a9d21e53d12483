"""The YAML config's shape (`Config`): digests, sources, and who may use /digest.

Every key is checked where it is declared; an unknown key is an error (`extra="forbid"`), and
checks across keys say which key is wrong in their message.
"""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digestbot.config.values import (
    DEFAULT_FRONT_MATTER_LIMIT,
    Duration,
    Names,
    PositiveDuration,
    Schedule,
    Size,
    SourceUrl,
    TimezoneName,
    redact_url,
    repository_folder,
    timezone,
    url_secrets,
)
from digestbot.errors import ConfigError

DEFAULT_CATCH_UP = timedelta(hours=1)
DEFAULT_REFRESH = timedelta(minutes=15)
DEFAULT_TIMEOUTS = {"git": timedelta(minutes=2), "feed": timedelta(seconds=20)}
LEGACY_SOURCE = "articles"  # `articles: PATH` is a folder source of this name
_SOURCE_ONLY = {"git": {"branch"}, "feed": {"topics", "weight", "half_life"}}
EMPTY_FOLDER = "{key} is empty: write the articles folder, like ../seeds"
MISSING_ARTICLES = "articles: required key is missing (or list the `sources:` to read)"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


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
    sources: Names | None = None
    layout: Literal["full", "compact"] = "full"
    max_per_provider: int | None = Field(None, ge=1)
    workspace: str | None = Field(None, pattern=r"^[TE][A-Z0-9]{2,}$")

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


class SourceConfig(BaseModel):
    """Where articles come from: a folder, a Smartable feed's git repository, or an RSS/Atom
    feed (exactly one of `git`, `feed`, or `folder` alone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    git: SourceUrl = None
    feed: SourceUrl = None
    folder: str | None = None  # a git source: the article folder inside the repository
    branch: str | None = None
    topics: list[str] = []
    weight: float = Field(1.0, gt=0, le=1_000_000, allow_inf_nan=False)
    half_life: PositiveDuration = timedelta(days=1)
    refresh: Duration = DEFAULT_REFRESH
    timeout: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SourceConfig:
        if self.git is not None and self.feed is not None:
            raise ValueError("give one of `git`, `feed` or `folder`, not both `git` and `feed`")
        if self.git is None and self.feed is None and self.folder is None:
            raise ValueError("give one of `git` (a repository), `feed` (RSS/Atom) or `folder`")
        if self.feed is not None and self.folder is not None:
            raise ValueError("`folder` is for git sources and folders, not feeds")
        for kind, keys in _SOURCE_ONLY.items():
            wrong = sorted(key for key in keys & self.model_fields_set if self.kind != kind)
            if wrong:
                raise ValueError(f"`{wrong[0]}` is only for {kind} sources")
        if self.kind == "git":
            repository_folder(self.folder)
        if self.kind == "folder" and not (self.folder or "").strip():
            raise ValueError(EMPTY_FOLDER.format(key="`folder`"))
        return self

    @property
    def kind(self) -> str:
        return "git" if self.git is not None else "feed" if self.feed is not None else "folder"

    @property
    def location(self) -> str:
        """Where it reads from, with any password in the URL blanked out."""
        return redact_url(self.git or self.feed or self.folder or "")

    @property
    def fetch_timeout(self) -> timedelta:
        return self.timeout or DEFAULT_TIMEOUTS.get(self.kind, timedelta(minutes=2))


class SlashConfig(BaseModel):
    """Who may post digests with /digest (empty: everyone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_users: list[str] = []
    allowed_channels: list[str] = []


class DashboardConfig(BaseModel):
    """Who may sign in to the dashboard with Slack, besides being in the bot's workspace
    (empty: every member)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_users: list[str] = []


class Config(BaseSettings):
    """The YAML config file, validated."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    articles: Path | None = None
    sources: dict[str, SourceConfig] = {}
    max_front_matter: Size = DEFAULT_FRONT_MATTER_LIMIT
    timezone: str = "UTC"
    digests: dict[str, DigestConfig]
    slash: SlashConfig = SlashConfig()
    dashboard: DashboardConfig = DashboardConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Only the YAML file (passed in as init values): the environment is Settings' business.
        return (init_settings,)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, name: str) -> str:
        timezone(name)
        return name

    @field_validator("digests", "sources", mode="before")
    @classmethod
    def _named(cls, items: Any) -> Any:
        # Each digest and source learns its own name, which is its key, never a key inside it.
        if not isinstance(items, dict):
            return items
        named = {}
        for name, body in items.items():
            if not _NAME.fullmatch(str(name)):
                raise ValueError(f"{name!r} is not a name (letters, digits, - _ .)")
            if isinstance(body, dict):
                if "name" in body:
                    raise ValueError(f"{name}.name: unknown key (the name is its key)")
                body = {**body, "name": str(name)}
            named[str(name)] = body
        return named

    @field_validator("articles", mode="before")
    @classmethod
    def _some_folder(cls, articles: Any) -> Any:
        if isinstance(articles, str) and not articles.strip():
            raise ValueError(EMPTY_FOLDER.format(key="it"))  # it would read the config's folder
        return articles

    @field_validator("digests")
    @classmethod
    def _some_digest(cls, digests: dict[str, DigestConfig]) -> dict[str, DigestConfig]:
        if not digests:
            raise ValueError("define at least one digest")
        return digests

    @model_validator(mode="after")
    def _known_sources(self) -> Config:
        if self.articles is not None and LEGACY_SOURCE in self.sources:
            raise ValueError(
                f"sources.{LEGACY_SOURCE}: `articles:` already names a folder source "
                f"called {LEGACY_SOURCE}; move it under `sources:` or rename this one"
            )
        if self.articles is None and not self.sources:
            raise ValueError(MISSING_ARTICLES)
        known = set(self.sources) | ({LEGACY_SOURCE} if self.articles is not None else set())
        for digest in self.digests.values():
            unknown = [name for name in digest.sources or () if name not in known]
            if unknown:
                raise ValueError(
                    f"digests.{digest.name}.sources: no source called {unknown[0]!r} "
                    f"(configured: {', '.join(sorted(known))})"
                )
        return self

    @property
    def all_sources(self) -> dict[str, SourceConfig]:
        """Every source, `articles: PATH` included as the folder source `articles`."""
        legacy = {}
        if self.articles is not None:
            legacy[LEGACY_SOURCE] = SourceConfig(name=LEGACY_SOURCE, folder=str(self.articles))
        return {**legacy, **self.sources}

    def digest_sources(self, digest: DigestConfig) -> list[str]:
        """The sources a digest reads: those it names, else all."""
        return list(digest.sources or self.all_sources)

    def secrets(self) -> list[str]:
        """Passwords written into source URLs."""
        return [
            secret
            for source in self.sources.values()
            for secret in url_secrets(source.git or source.feed or "")
        ]

    def digest_timezone(self, digest: DigestConfig) -> tzinfo:
        return timezone(digest.timezone or self.timezone)

    def pick(self, names: list[str] | tuple[str, ...] = ()) -> list[DigestConfig]:
        """The named digests in the order asked (all of them when none is named)."""
        if not names:
            return list(self.digests.values())
        unknown = [name for name in names if name not in self.digests]
        if unknown:
            known = ", ".join(self.digests)
            raise ConfigError(f"no digest called {', '.join(unknown)} (configured: {known})")
        return [self.digests[name] for name in names]
