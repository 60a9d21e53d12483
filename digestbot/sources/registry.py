"""Step 1: the configured sources, kept fresh. Before a run, each source it reads whose copy is
older than its `refresh` is refreshed, in parallel across sources, and once per host however many
runs ask at once (a lock per source: a thread lock, then a file lock for other processes).

A failed refresh keeps the last good copy, is logged with the source and the reason, and is
remembered in the source's state (shown by `status`); the source is tried again after a back-off
that doubles with each failure, up to an hour, so a broken feed neither stalls every run nor is
dropped. `digestbot refresh` refreshes at once, whatever the copy's age or the back-off.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from digestbot.clock import SYSTEM, Clock
from digestbot.config import SourceConfig
from digestbot.errors import SourceError
from digestbot.index import SUFFIXES, Progress
from digestbot.logs import redact
from digestbot.sources.base import Change, Copy, Source
from digestbot.sources.folder import FolderSource
from digestbot.sources.snapshots import replace_file

log = logging.getLogger(__name__)

FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
PARALLEL = 64  # sources refreshed at once: most of a refresh is waiting on the network
ProgressFor = Callable[[str], Progress | None]

# One lock per source home in this process, whichever Sources object (a config reload makes a
# new one) asks for it.
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@dataclass
class SourceState:
    """What the last refreshes of a source did, kept in its home beside the copies."""

    revision: str = ""
    refreshed_at: float | None = None  # when the copy was last known to be the latest
    articles: int | None = None
    error: str | None = None
    failed_at: float | None = None
    failures: int = 0
    retry_at: float | None = None


@dataclass(frozen=True)
class Copies:
    """What a run reads: each source's current copy, and the sources whose refresh failed
    (their last good copy is among the copies, if they ever had one)."""

    copies: dict[str, Copy]
    failed: list[Refreshed]


@dataclass(frozen=True)
class Refreshed:
    """One source's refresh: what changed, or why it failed, and its state after."""

    name: str
    change: Change | None
    error: str | None
    state: SourceState


class Sources:
    """The sources of one config, their copies under the cache folder."""

    def __init__(
        self, configs: dict[str, SourceConfig], cache_dir: Path, *, clock: Clock = SYSTEM
    ) -> None:
        self.configs = configs
        self.clock = clock
        self._root = cache_dir / "sources"
        self._sources = {name: self._build(config) for name, config in configs.items()}

    def home(self, name: str) -> Path:
        """Where a source keeps its copies: a new URL or folder starts a new home."""
        config = self.configs[name]
        # The location without its password: a secret never turns up in a folder name, hashed
        # or not, and a rotated password keeps the copy.
        identity = "\n".join(
            (config.kind, config.location, config.folder or "", config.branch or "")
        )
        return self._root / f"{name}-{hashlib.sha1(identity.encode()).hexdigest()[:10]}"

    def copies(
        self, names: Iterable[str], *, refresh: bool = True, progress: ProgressFor | None = None
    ) -> Copies:
        """The current copy of each source, after refreshing those that are stale."""
        names = list(dict.fromkeys(names))
        failed = []
        if refresh:
            stale = [name for name in names if self._stale(name)]
            done = self._each(stale, lambda name: self._refresh(name, progress, force=False))
            failed = [result for result in done if result.error is not None]
        copies = {}
        for name in names:
            copy = self._sources[name].current()
            if copy is None:
                log.warning("source has no copy yet source=%s", name)
            else:
                copies[name] = copy
        return Copies(copies, failed)

    def refresh(
        self, names: Iterable[str] = (), *, progress: ProgressFor | None = None
    ) -> list[Refreshed]:
        """Refresh the named sources (all when none is named) now."""
        chosen = list(dict.fromkeys(names)) or list(self.configs)
        return self._each(chosen, lambda name: self._refresh(name, progress, force=True))

    def state(self, name: str) -> SourceState:
        if self.configs[name].kind == "folder":
            return SourceState(articles=_count(Path(self.configs[name].folder or ".")))
        try:
            data = json.loads((self.home(name) / "state.json").read_text(encoding="utf-8"))
            return SourceState(**data)
        except (OSError, ValueError, TypeError):
            return SourceState()

    def _build(self, config: SourceConfig) -> Source:
        timeout = config.fetch_timeout.total_seconds()
        if config.kind == "git":
            from digestbot.sources.git import GitSource

            return GitSource(
                config.name,
                config.git or "",
                home=self.home(config.name),
                folder=config.folder,
                branch=config.branch,
                timeout=timeout,
            )
        if config.kind == "feed":
            from digestbot.sources.feed import FeedSource

            return FeedSource(
                config.name,
                config.feed or "",
                home=self.home(config.name),
                topics=config.topics,
                timeout=timeout,
                clock=self.clock,
            )
        return FolderSource(config.name, Path(config.folder or "."))

    def _each(
        self, names: list[str], refresh: Callable[[str], Refreshed | None]
    ) -> list[Refreshed]:
        if len(names) <= 1:
            done = [refresh(name) for name in names]
        else:
            feeds = sum(1 for name in names if self.configs[name].kind == "feed")
            with _side_by_side(feeds), ThreadPoolExecutor(min(PARALLEL, len(names))) as pool:
                done = list(pool.map(refresh, names))
        return [result for result in done if result is not None]

    def _stale(self, name: str) -> bool:
        config = self.configs[name]
        if config.kind == "folder":
            return False
        state = self.state(name)
        if state.refreshed_at is None or self._sources[name].current() is None:
            return True
        return self.clock.time() - state.refreshed_at >= config.refresh.total_seconds()

    def _refresh(self, name: str, progress: ProgressFor | None, *, force: bool) -> Refreshed | None:
        with self._locked(name):
            # Another thread or process may have refreshed it while this one waited.
            if not force and not self._stale(name):
                return None
            state = self.state(name)
            now = self.clock.time()
            if not force and state.retry_at is not None and now < state.retry_at:
                log.info(
                    "source refresh postponed source=%s failures=%d error=%r",
                    name,
                    state.failures,
                    state.error,
                )
                return Refreshed(name, None, state.error, state)
            return self._attempt(name, progress(name) if progress else None, state, now)

    def _attempt(
        self, name: str, progress: Progress | None, state: SourceState, now: float
    ) -> Refreshed:
        source = self._sources[name]
        try:
            change = source.refresh(progress)
        except SourceError as error:
            return self._failed(name, state, now, error.reason)
        except OSError as error:  # the disk under the cache folder, not the source
            return self._failed(name, state, now, f"cannot keep its copy ({error})")
        if change.not_modified and state.articles is not None:
            articles: int | None = state.articles  # the same copy: counted when it was made
        else:
            copy = source.current()
            articles = _count(copy.folder) if copy else None
        state = SourceState(
            revision=change.revision or state.revision, refreshed_at=now, articles=articles
        )
        self._save(name, state)
        log.info(
            "source refreshed source=%s revision=%s new=%d changed=%d removed=%d not_modified=%s",
            name,
            state.revision[:12] or "-",
            change.new,
            change.changed,
            change.removed,
            change.not_modified,
        )
        return Refreshed(name, change, None, state)

    def _failed(self, name: str, state: SourceState, now: float, reason: str) -> Refreshed:
        reason = redact(reason)
        failures = state.failures + 1
        backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1)).total_seconds()
        state = SourceState(
            revision=state.revision,
            refreshed_at=state.refreshed_at,
            articles=state.articles,
            error=reason,
            failed_at=now,
            failures=failures,
            retry_at=now + backoff,
        )
        self._save(name, state)
        log.warning(
            "source refresh failed source=%s failures=%d retry_in=%ds reason=%r",
            name,
            failures,
            backoff,
            reason,
        )
        return Refreshed(name, None, reason, state)

    def _save(self, name: str, state: SourceState) -> None:
        replace_file(self.home(name) / "state.json", json.dumps(asdict(state)).encode())

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        home = self.home(name)
        with _thread_lock(home):
            home.mkdir(parents=True, exist_ok=True)
            with open(home / "lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
                yield


def _thread_lock(home: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(home, threading.Lock())


def _count(folder: Path) -> int:
    """Article files in a copy."""
    count = 0
    for _, _, files in os.walk(folder):
        count += sum(1 for name in files if name.endswith(SUFFIXES) and not name.startswith("."))
    return count


def _side_by_side(feeds: int) -> AbstractContextManager[None]:
    """Feeds refreshed together parse in a pool. feedparser is imported only when there are
    feeds: it costs a tenth of a second at every start."""
    if not feeds:
        return nullcontext()
    from digestbot.sources.parsing import side_by_side

    return side_by_side(feeds)
