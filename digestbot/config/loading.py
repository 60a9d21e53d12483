"""Reading the config file: YAML in, a validated `Config` out, folders made absolute.

Errors name the file and the key (`digests.ai-daily.schedule`), and say what to write.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import YamlConfigSettingsSource

from digestbot import logs
from digestbot.config.models import (
    MISSING_ARTICLES,
    Config,
    DashboardConfig,
    DigestConfig,
    SlashConfig,
    SourceConfig,
)
from digestbot.config.settings import DEFAULT_CONFIG
from digestbot.config.values import YAML_LOADER, yaml_problem
from digestbot.errors import ConfigError


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
        problems = [_describe_one(err) for err in error.errors(include_input=False)]
        if "articles" not in data and not data.get("sources"):
            # Said by a check across keys, which pydantic skips once a key has failed.
            problems.insert(0, MISSING_ARTICLES)
        raise ConfigError(f"{path}: {'; '.join(dict.fromkeys(problems))}") from None
    logs.add_secrets(config.secrets())
    return _resolve_folders(config, path.parent)


def _resolve_folders(config: Config, base: Path) -> Config:
    """Folders relative to the config file, made absolute (git's `folder` is in the repo)."""
    articles = config.articles
    if articles is not None and not articles.is_absolute():
        articles = (base / articles).resolve()
    sources = {name: _resolve_source(source, base) for name, source in config.sources.items()}
    return config.model_copy(update={"articles": articles, "sources": sources})


def _resolve_source(source: SourceConfig, base: Path) -> SourceConfig:
    if source.kind == "folder" and source.folder is not None:
        return source.model_copy(update={"folder": str((base / source.folder).resolve())})
    if source.git is not None and _local_path(source.git):  # git itself runs in the cache
        return source.model_copy(update={"git": str((base / source.git).resolve())})
    return source


def _local_path(location: str) -> bool:
    """git's rule: a colon before any slash makes a URL (`https://`) or `host:path`."""
    colon, slash = location.find(":"), location.find("/")
    return colon < 0 or 0 <= slash < colon


class _UniqueKeys(YAML_LOADER):  # type: ignore[misc, valid-type]
    """YAML as libyaml reads it, except that a key written twice in one mapping is an error:
    YAML would keep the last one, and a digest defined twice would silently lose the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # a merge (<<) may override keys; other keys are not config keys
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is written twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class _MappingSource(YamlConfigSettingsSource):
    """The config file as pydantic-settings reads it, refused unless it holds a mapping: a
    list or a number would otherwise crash, or a list of pairs pass as keys."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        with file_path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_UniqueKeys) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{file_path}: the config must be a mapping of keys")
        return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = _MappingSource(Config, yaml_file=path)()
    except yaml.YAMLError as error:
        line, problem = yaml_problem(error)
        where = f" (line {line})" if line else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {problem or 'invalid YAML'}") from None
    except (ValueError, UnicodeDecodeError, OSError) as error:
        raise ConfigError(f"{path}: cannot be read as a config mapping: {error}") from None
    return data


def _describe_one(err: Any) -> str:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(loc)}"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if not loc:  # checks across keys name their key in the message
        return message
    return f"{key}: {message}"


def _suggestion(loc: list[str]) -> str:
    nested = {"digests": DigestConfig, "sources": SourceConfig}
    if len(loc) == 3 and loc[0] in nested:
        fields = nested[loc[0]].model_fields
    else:
        sections = {"slash": SlashConfig, "dashboard": DashboardConfig}
        fields = sections.get(loc[0] if loc else "", Config).model_fields
    close = difflib.get_close_matches(loc[-1], [f for f in fields if f != "name"], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
