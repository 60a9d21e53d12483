"""What every kind of source provides: its last complete copy, and a refresh for a new one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digestbot.index import Progress


@dataclass(frozen=True)
class Copy:
    """A source's complete copy: a folder of article files that no refresh changes."""

    folder: Path
    revision: str  # a git commit, a feed's fetch time; "" for a folder on disk


@dataclass(frozen=True)
class Change:
    """What a refresh did: articles added, changed and removed, and the revision it reached."""

    revision: str
    new: int = 0
    changed: int = 0
    removed: int = 0
    not_modified: bool = False  # nothing to fetch: the copy in use is already the latest


class Source(Protocol):
    """One configured source."""

    name: str

    def current(self) -> Copy | None:
        """The last complete copy; None before the first refresh."""
        ...

    def refresh(self, progress: Progress | None = None) -> Change:
        """Make a new complete copy. A failure raises SourceError and keeps the last copy."""
        ...
