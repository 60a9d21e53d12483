"""Logging: one line per event, key=value pairs, and no secret ever written.

Modules log with `logging.getLogger(__name__)` and messages like
`"delivered digest=%s channel=%s ts=%s"`; `setup` installs the format, which
replaces any configured secret (tokens, signing secret) by `***`, wherever it appears.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
REDACTED = "***"


class RedactingFormatter(logging.Formatter):
    """Format a record, traceback included, then blank out every secret value in it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z")
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


_secrets: list[str] = []


def redact(text: str) -> str:
    """`text` with every configured secret blanked out (for messages printed, not logged)."""
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def add_secrets(secrets: Iterable[str]) -> None:
    """Blank these out too (passwords found in the config), in logs and printed messages."""
    _secrets.extend(secret for secret in secrets if secret and secret not in _secrets)


def setup(level: int, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at `level`; chatty libraries only from WARNING unless debugging."""
    _secrets[:] = [secret for secret in secrets if secret]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    library_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in ("slack_sdk", "slack_bolt", "apscheduler", "sqlalchemy", "urllib3", "waitress"):
        logging.getLogger(name).setLevel(max(library_level, level))
