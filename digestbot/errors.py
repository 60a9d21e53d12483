"""The error tree: every error digestbot reports to a person.

    DigestbotError
    ├── ConfigError      the config file or the environment is wrong (names the key)
    ├── ArticleError     one article file cannot be read (names the file)
    ├── SourceError      a source could not be refreshed (names the source)
    ├── LedgerError      the state store cannot be opened or used
    └── DeliveryError    Slack refused or could not be reached (names the channel)

Messages are written for the person running digestbot and say what to do.
"""

from __future__ import annotations


class DigestbotError(Exception):
    """Something the user can fix; shown as one line, without a traceback."""


class ConfigError(DigestbotError):
    """The config file or the environment is invalid."""


class ArticleError(DigestbotError):
    """An article file cannot be read; it is skipped, never fatal."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class SourceError(DigestbotError):
    """A source's refresh failed; its last good copy stays in use."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class LedgerError(DigestbotError):
    """The state store cannot be opened or written."""


class DeliveryError(DigestbotError):
    """Slack refused a message or could not be reached.

    `uncertain`: the message may have landed even so (an answer was lost and the channel's
    history could not tell), so it must be checked, not planned again.
    """

    def __init__(self, reason: str, *, uncertain: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.uncertain = uncertain
