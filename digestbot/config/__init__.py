"""The input of every step: the environment (`Settings`) and the YAML config (`Config`).

`settings` is the only reader of the environment; `models` declares the config's keys, `values`
checks single values, `loading` reads the file. Errors name the variable, or the file and the
key (`digests.ai-daily.schedule`), and never show a secret.
"""

from digestbot.config.loading import load_config
from digestbot.config.models import (
    DEFAULT_CATCH_UP,
    LEGACY_SOURCE,
    Config,
    DigestConfig,
    SlashConfig,
    SourceConfig,
)
from digestbot.config.settings import DEFAULT_CONFIG, Settings, load_settings
from digestbot.config.values import parse_duration, redact_url, timezone

__all__ = [
    "DEFAULT_CATCH_UP",
    "DEFAULT_CONFIG",
    "LEGACY_SOURCE",
    "Config",
    "DigestConfig",
    "Settings",
    "SlashConfig",
    "SourceConfig",
    "load_config",
    "load_settings",
    "parse_duration",
    "redact_url",
    "timezone",
]
