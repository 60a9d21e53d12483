"""Step 1, a source: a folder on disk that something else keeps up to date (`folder:`, or the
`articles:` key). Nothing to refresh: every run reads the folder as it is."""

from __future__ import annotations

from pathlib import Path

from digestbot.index import Progress
from digestbot.sources.base import Change, Copy


class FolderSource:
    """A folder of article files, read in place."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder

    def current(self) -> Copy:
        return Copy(self.folder, "")

    def refresh(self, progress: Progress | None = None) -> Change:
        return Change("", not_modified=True)
