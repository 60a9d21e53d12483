"""Logging: one line per event, key=value pairs, nothing a stranger can forge, no secret ever
written.

Modules log with `logging.getLogger(__name__)` and messages like
`"delivered digest=%s channel=%s ts=%s"`; `setup` installs the format, which
- escapes CR, LF and every other control character in the message, so that a value (a title, a
  request) can never start a line of its own;
- replaces every known secret (tokens, signing secret, passwords in URLs), and anything shaped
  like a Slack token, by `***`, wherever it appears, tracebacks included;
- never writes a request body (Bolt would, for a request with a bad signature).
Libraries log through the same handler, at WARNING unless debugging, whatever Bolt copies from
the root logger.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
REDACTED = "***"
LIBRARIES = ("slack_sdk", "slack_bolt", "apscheduler", "sqlalchemy", "urllib3", "waitress")
# Slack's tokens (bot, user, app, config, refresh) and signing secrets pasted somewhere odd.
_TOKEN = re.compile(r"\b(?:xox[abposre]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{6,}")
# C0 and C1 controls (tab and newline included) and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BODY = re.compile(r"\bbody: .*", re.S)


def one_line(text: str) -> str:
    """`text` with every control character escaped (`\\n`, `\\x1b`): one line, inert."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class RedactingFormatter(logging.Formatter):
    """Format a record on one line, traceback apart, then blank out every secret in it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z")
        self.secrets = secrets

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return blank(super().format(record), self.secrets)


class _NoBodies(logging.Filter):
    """Bolt logs a request's body when its signature is wrong: keep the line, not the body."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("slack_bolt"):
            message = _BODY.sub("body: (not logged)", record.getMessage())
            record.msg, record.args = message, None
        return True


_secrets: list[str] = []
# A shorter secret is part of ordinary words ("ai" in #ai-news): blanking it there would
# garble the output and, by the gaps, give it away. URLs still lose their passwords whole.
SHORTEST_BLANKED = 4


def redact(text: str) -> str:
    """`text` with every configured secret blanked out (for messages printed, not logged)."""
    return blank(text, _secrets)


def blank(text: str, secrets: Iterable[str]) -> str:
    """`text` with these secrets (long enough to be told from words) and Slack tokens blanked."""
    for secret in secrets:
        if len(secret) >= SHORTEST_BLANKED:
            text = text.replace(secret, REDACTED)
    return _TOKEN.sub(REDACTED, text)


def add_secrets(secrets: Iterable[str]) -> None:
    """Blank these out too (passwords found in the config), in logs and printed messages."""
    _secrets.extend(secret for secret in secrets if secret and secret not in _secrets)


def setup(level: int, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at `level`; chatty libraries only from WARNING unless debugging."""
    _secrets[:] = [secret for secret in secrets if secret]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_secrets))
    handler.addFilter(_NoBodies())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    library_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(max(library_level, level))
