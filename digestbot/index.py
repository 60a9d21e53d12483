"""Step 1b: keep the article index, so a digest of thousands of files costs a few stat calls.

The index is a local SQLite cache (one file per articles folder, in digestbot's cache folder)
holding each file's size, mtime and ranking fields, and, once an article has won a place in a
digest, what the digest shows of it. Only new or changed files are read again. It is a cache of
local files, so it lives beside them rather than in the shared state store: replicas on other
hosts have their own copies of the feed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from digestbot.articles import (
    MAX_FRONT_MATTER,
    Article,
    Entry,
    Related,
    read_article,
    read_entry,
)
from digestbot.config.models import LEGACY_SOURCE
from digestbot.errors import ArticleError, ConfigError

log = logging.getLogger(__name__)

FORMAT = "6"  # rows read by older rules are read again
SUFFIXES = (".md", ".txt")
Progress = Callable[[int, int], None]
Stamp = tuple[int, int]  # a file's size and mtime: a file whose stamp is unchanged is not read

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, error TEXT,
    title TEXT, url TEXT, heat REAL, quality REAL, published_at REAL, published INTEGER,
    removed INTEGER, topics TEXT, provider TEXT, display TEXT
);
"""
_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")  # what a torn or overwritten cache file says
_COLUMNS = "path, title, url, heat, quality, published_at, published, removed, topics, provider"
_MARKS = ", ".join("?" * len(_COLUMNS.split(",")))


@dataclass(frozen=True)
class Skipped:
    """A file that is not an article, and why."""

    path: str
    reason: str
    source: str = ""


@dataclass(frozen=True)
class Snapshot:
    """The index after a refresh: the articles that can be picked, the files skipped."""

    entries: list[Entry]
    skipped: list[Skipped]
    files: int
    parsed: int


@dataclass(frozen=True)
class Lookup:
    """Articles looked up for a digest: found, failed, and entries corrected by a full read."""

    found: dict[str, Article]
    failed: list[Skipped]
    fresh: dict[str, Entry]


class ArticleIndex:
    """The persistent index of one articles folder."""

    def __init__(
        self,
        root: Path,
        cache_dir: Path,
        *,
        source: str = "",
        key: str | None = None,
        limit: int = MAX_FRONT_MATTER,
    ) -> None:
        """The index of `root`, for the source called `source`. `key` names the index file
        when the folder moves from copy to copy (a source's snapshots); else the folder does."""
        if not root.is_dir():
            setting = "articles" if source in ("", LEGACY_SOURCE) else f"sources.{source}.folder"
            raise ConfigError(
                f"{root}: the articles folder does not exist: create it or fix the config's "
                f"`{setting}` key (relative to the config file)"
            )
        self.root = root
        self.source = source
        self.limit = limit
        name = hashlib.sha1((key or str(root.resolve())).encode()).hexdigest()[:16]
        self._path = cache_dir / f"index-{name}.sqlite"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"{cache_dir}: cannot keep the article index there ({error}); set XDG_CACHE_HOME "
                "to a writable folder"
            ) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArticleIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, damage: sqlite3.DatabaseError | None = None) -> sqlite3.Connection:
        """The index file (made again when it is damaged: it is only a cache of the folder).
        Replicas sharing a cache open one index at once: one at a time prepares it, or one
        drops the table another has just created and is reading."""
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if damage is None:
                try:
                    return self._connect()
                except sqlite3.DatabaseError as error:
                    if error.sqlite_errorname not in _DAMAGED:
                        raise
                    damage = error
            log.warning("article index rebuilt path=%s error=%s", self._path, damage)
            for damaged in (self._path, Path(f"{self._path}-wal"), Path(f"{self._path}-shm")):
                damaged.unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        return _prepared(sqlite3.connect(self._path, timeout=30), f"{FORMAT}:{self.limit}")

    def refresh(self, progress: Progress | None = None) -> Snapshot:
        """Bring the index up to date with the folder and return its entries. Damage found in
        the index file on the way (not only when it opens) makes it again from the folder."""
        try:
            return self._refresh(progress)
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorname not in _DAMAGED:
                raise
            self._db.close()
            self._db = self._open(damage=error)
            return self._refresh(progress)

    def _refresh(self, progress: Progress | None) -> Snapshot:
        known = {
            path: (size, mtime)
            for path, size, mtime in self._db.execute("SELECT path, size, mtime_ns FROM articles")
        }
        found = {path: (stamp, problem) for path, stamp, problem in self._scan()}
        files = {path: stamp for path, (stamp, _) in found.items()}
        changed = [path for path, stamp in files.items() if known.get(path) != stamp]
        gone = [(path,) for path in known.keys() - files.keys()]
        with self._db:
            self._db.executemany("DELETE FROM articles WHERE path = ?", gone)
            for done, path in enumerate(changed, 1):
                self._index_file(path, *found[path])
                if progress:
                    progress(done, len(changed))
        if changed or gone:
            log.info(
                "index refreshed root=%s parsed=%d removed=%d", self.root, len(changed), len(gone)
            )
        return Snapshot(self._entries(), self.skipped(), len(files), len(changed))

    def _scan(self) -> Iterator[tuple[str, tuple[int, int], str | None]]:
        """Every article file under the root: (name, (size, mtime), why it cannot be read).

        Links are never followed into folders (two links to `.` would make the walk endless)
        nor out of the root (a link to a folder elsewhere would add its files to a digest).
        """
        # Plain strings, not Path objects: this runs for every file on every digest.
        root = str(self.root)
        inside = os.path.realpath(root) + os.sep
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as items:
                    for item in items:
                        if item.name.startswith("."):
                            continue
                        name = item.path[len(root) + 1 :].replace(os.sep, "/")
                        if not _is_utf8(name):  # the index, and any message, could not hold it
                            if item.is_dir(follow_symlinks=False) or name.endswith(SUFFIXES):
                                yield _shown(name), (0, 0), "its name is not UTF-8 text: rename it"
                        elif item.is_dir(follow_symlinks=False):
                            stack.append(item.path)
                        elif item.is_symlink():
                            yield from _link(item, name, inside)
                        elif item.name.endswith(SUFFIXES) and item.is_file():
                            stat = item.stat()
                            yield name, (stat.st_size, stat.st_mtime_ns), None
            except OSError as error:
                log.warning("folder unreadable path=%s error=%s", folder, error.strerror)

    def _index_file(self, path: str, stamp: tuple[int, int], problem: str | None) -> None:
        try:
            if problem is not None:
                raise ArticleError(path, problem)
            entry = read_entry(self.root / path, path, self.limit)
        except ArticleError as error:
            row: tuple[object, ...] = (path, *stamp, error.reason) + (None,) * 10
        else:
            row = (path, *stamp, None, *_entry_row(entry)[1:], None)
        marks = ", ".join("?" * len(row))
        self._db.execute(f"INSERT OR REPLACE INTO articles VALUES ({marks})", row)

    def _entries(self) -> list[Entry]:
        # Only published, unremoved articles can ever be picked; in real feeds that is a
        # small part of the files, so the rest is never loaded.
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE error IS NULL AND published = 1 AND removed = 0"
        )
        return [_entry_from_row(row, self.source) for row in rows]

    def skipped(self) -> list[Skipped]:
        rows = self._db.execute(
            "SELECT path, error FROM articles WHERE error IS NOT NULL ORDER BY path"
        )
        return [Skipped(path, reason, self.source) for path, reason in rows]

    def articles(self, paths: Iterable[str]) -> Lookup:
        """What the digest shows of these articles. A file read fully for the first time may
        fail (it is skipped) or rank differently from its quick read (its entry is fresh)."""
        lookup = Lookup({}, [], {})
        for path in dict.fromkeys(paths):
            row = self._db.execute(
                "SELECT display FROM articles WHERE path = ?", (path,)
            ).fetchone()
            if row and row[0]:
                lookup.found[path] = _article_from_json(row[0], self.source)
                continue
            try:
                entry, lookup.found[path] = self._parse_fully(path)
            except ArticleError as error:
                self._record_error(path, error.reason)
                lookup.failed.append(Skipped(path, error.reason, self.source))
            else:
                lookup.fresh[path] = entry
        return lookup

    def verify(self, progress: Progress | None = None) -> list[Skipped]:
        """Parse every file completely (what `check` does), caching what passes."""
        pending = [
            path
            for (path,) in self._db.execute(
                "SELECT path FROM articles WHERE error IS NULL AND display IS NULL ORDER BY path"
            )
        ]
        for done, path in enumerate(pending, 1):
            self.articles([path])
            if progress:
                progress(done, len(pending))
        return self.skipped()

    def _parse_fully(self, path: str) -> tuple[Entry, Article]:
        entry, article = read_article(self.root / path, path, self.limit)
        entry, article = replace(entry, source=self.source), replace(article, source=self.source)
        with self._db:
            self._db.execute(
                f"UPDATE articles SET ({_COLUMNS}, display) = ({_MARKS}, ?) WHERE path = ?",
                (*_entry_row(entry), _article_to_json(article), path),
            )
        return entry, article

    def _record_error(self, path: str, reason: str) -> None:
        log.warning("article skipped path=%s reason=%r", path, reason)
        with self._db:
            self._db.execute(
                "UPDATE articles SET error = ?, display = NULL WHERE path = ?", (reason, path)
            )


def _is_utf8(name: str) -> bool:
    """Whether a name from the file system was UTF-8 (Python keeps other bytes as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _link(item: os.DirEntry[str], name: str, inside: str) -> Iterator[tuple[str, Stamp, str]]:
    """A symbolic link found in the walk: never an article, always said why."""
    stat = item.stat(follow_symlinks=False)
    stamp = (stat.st_size, stat.st_mtime_ns)
    if item.is_dir():
        yield name, stamp, "a link to a folder: links to folders are not followed"
    elif not os.path.realpath(item.path).startswith(inside):
        yield name, stamp, "a link to a file outside the articles folder: not read"
    elif item.name.endswith(SUFFIXES) and item.is_file():
        target = item.stat()  # inside: read as the file it points to
        yield name, (target.st_size, target.st_mtime_ns), None


def _entry_row(entry: Entry) -> tuple[object, ...]:
    published_at = entry.published_at.timestamp() if entry.published_at else None
    return (
        entry.path,
        entry.title,
        entry.url,
        entry.heat,
        entry.quality,
        published_at,
        entry.published,
        entry.removed,
        json.dumps(entry.topics),
        entry.provider,
    )


def _prepared(db: sqlite3.Connection, form: str) -> sqlite3.Connection:
    """The index's tables, emptied when they were filled by other rules: another format, or
    another size limit (`max_front_matter`), would have read other files or none."""
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if row is None or row[0] != form:
            with db:
                db.execute("DROP TABLE articles")
            db.executescript(_SCHEMA)
            with db:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (form,))
    except sqlite3.Error:
        db.close()
        raise
    return db


def _entry_from_row(row: tuple, source: str) -> Entry:  # type: ignore[type-arg]
    path, title, url, heat, quality, published_at, published, removed, topics, provider = row
    return Entry(
        path=path,
        title=title,
        url=url,
        heat=heat,
        quality=quality,
        published_at=datetime.fromtimestamp(published_at, UTC)
        if published_at is not None
        else None,
        published=bool(published),
        removed=bool(removed),
        topics=tuple(json.loads(topics)),
        provider=provider,
        source=source,
    )


def _article_to_json(article: Article) -> str:
    data = asdict(article)
    del data["source"]  # the index's own
    data["published_at"] = article.published_at.isoformat() if article.published_at else None
    return json.dumps(data)


def _article_from_json(text: str, source: str) -> Article:
    data = json.loads(text)
    data["source"] = source
    published_at = data["published_at"]
    data["published_at"] = datetime.fromisoformat(published_at) if published_at else None
    data["related"] = tuple(Related(**item) for item in data["related"])
    return Article(**data)
