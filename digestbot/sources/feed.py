"""Step 1, a source: an RSS or Atom feed (`feed:`), kept as a folder of article files.

A refresh fetches the feed itself (feedparser has no timeout and hides network errors): one
conditional GET bounded in time and size, then feedparser reads the bytes. Each entry becomes an
article file (`entries`) in a new snapshot (`snapshots`): an entry that did not change keeps its
file, so its inode, and the article index does not read it again. An entry that leaves the feed
stays a candidate for `RETENTION` after it was last seen. What the next refresh needs (the
validators for a conditional GET, and when each entry was first and last seen) is kept in a JSON
file in the source's home. A failure raises `SourceError` and leaves the last copy as it was.
No message or log line shows the password of an address like `https://user:TOKEN@host/feed`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from digestbot.clock import SYSTEM, Clock
from digestbot.config.values import redact_url, url_secrets
from digestbot.errors import SourceError
from digestbot.index import Progress
from digestbot.logs import blank
from digestbot.sources.base import Change, Copy
from digestbot.sources.entries import FeedEntry
from digestbot.sources.fetch import Answer, FetchFailure, fetch_within, request_for
from digestbot.sources.parsing import parse
from digestbot.sources.snapshots import Snapshots, replace_file, write_staged

log = logging.getLogger(__name__)

RETENTION = timedelta(days=7)  # how long an entry that left the feed stays a candidate
STATE_FILE = "feed-state.json"


class FeedSource:
    """An RSS or Atom feed; its copy is a folder of one article file per entry."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        home: Path,
        topics: Sequence[str] = (),
        timeout: float = 20.0,
        clock: Clock = SYSTEM,
    ) -> None:
        self.name = name
        self.url = url
        self.home = home
        self.topics = tuple(topics)
        self.timeout = timeout
        self.clock = clock
        self._snapshots = Snapshots(home)
        self._shown = redact_url(url)
        self._secrets = url_secrets(url)

    def current(self) -> Copy | None:
        folder = self._snapshots.current()
        if folder is None:
            return None
        return Copy(folder, _State.load(self.home / STATE_FILE).revision)

    def refresh(self, progress: Progress | None = None) -> Change:
        state = _State.load(self.home / STATE_FILE)
        # Another address (a new secret in its query too): its validators differ.
        if state.url_key != _url_key(self.url):
            state = _State(url_key=_url_key(self.url), entries=state.entries)
        folder = self._snapshots.current()
        answer = self._fetch(state if folder is not None else None)
        if answer.status == HTTPStatus.NOT_MODIFIED:
            if folder is None:  # only a copy's validators ask for a 304
                raise self._error("answered 304 Not Modified, but there is no copy to keep")
            log.info("feed not modified source=%s status=304", self.name)
            return Change(state.revision, not_modified=True)
        entries = self._entries(answer)
        plan = _plan(state, entries, folder, self.clock.now())
        self._publish(plan, state.revision if folder is not None else "", progress)
        plan.state.etag = answer.headers.get("ETag", "")
        plan.state.last_modified = answer.headers.get("Last-Modified", "")
        plan.state.save(self.home / STATE_FILE)
        log.info(
            "feed refreshed source=%s status=%d entries=%d new=%d changed=%d removed=%d",
            *(self.name, answer.status, len(entries), plan.new, plan.changed, plan.removed),
        )
        return Change(plan.state.revision, plan.new, plan.changed, plan.removed)

    def _publish(self, plan: _Plan, revision: str, progress: Progress | None) -> None:
        """A new copy when anything changed; else the current one stays, and its revision."""
        if revision and not plan.writes and not plan.unwanted:
            plan.state.revision = revision
            return
        plan.state.revision = plan.revision()
        label = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        self._snapshots.publish(lambda staging: plan.fill(staging, progress), label)

    def _fetch(self, state: _State | None) -> Answer:
        """The feed's answer, conditional on the copy's validators when there is a copy."""
        try:
            parts = urlsplit(self.url)
            valid = parts.scheme in ("http", "https") and parts.hostname and parts.port != 0
        except ValueError:  # a bad port or IPv6 literal
            valid = False
        if not valid:
            raise self._error("is not an http(s) address of a feed")
        validators = (state.etag, state.last_modified) if state is not None else ("", "")
        try:
            return fetch_within(request_for(self.url, *validators), self.timeout)
        except FetchFailure as failure:
            raise self._error(failure.reason) from None

    def _entries(self, answer: Answer) -> list[FeedEntry]:
        parsed = parse(answer.body, answer.for_parser(), answer.url, self.topics)
        if parsed.problem is not None:
            raise self._error(parsed.problem)
        return parsed.entries

    def _error(self, reason: str) -> SourceError:
        # A reason may quote the server, which knows the secret.
        return SourceError(self.name, f"{self._shown} {blank(reason, self._secrets)}")


@dataclass
class _Seen:
    """An entry this feed has had: its file, when it was first and last seen, what was written."""

    file: str
    first_seen: datetime
    last_seen: datetime
    digest: str  # sha256 of the file written


@dataclass
class _State:
    """What a feed's next refresh needs, kept in the source's home."""

    url_key: str = ""  # which address the validators are for (hashed, without its password)
    etag: str = ""
    last_modified: str = ""
    revision: str = ""
    entries: dict[str, _Seen] = field(default_factory=dict)  # by identity

    @classmethod
    def load(cls, path: Path) -> _State:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {
                identity: _Seen(
                    seen["file"],
                    datetime.fromisoformat(seen["first_seen"]),
                    datetime.fromisoformat(seen["last_seen"]),
                    seen["digest"],
                )
                for identity, seen in data.pop("entries").items()
            }
            return cls(**data, entries=entries)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            # Starting over costs one rewrite of every file, not the copy in use.
            log.warning("feed state unreadable, starting over path=%s error=%r", path, error)
            return cls()

    def save(self, path: Path) -> None:
        # vars, not asdict: its deep copy of every entry was a tenth of a first refresh.
        data: dict[str, object] = {**vars(self)}
        data["entries"] = {
            identity: {
                **vars(seen),
                "first_seen": seen.first_seen.isoformat(),
                "last_seen": seen.last_seen.isoformat(),
            }
            for identity, seen in self.entries.items()
        }
        replace_file(path, json.dumps(data, ensure_ascii=False).encode())


@dataclass
class _Plan:
    """What one refresh changes in the copy, and the state that describes the result."""

    state: _State
    writes: dict[str, bytes] = field(default_factory=dict)  # file name: content
    unwanted: set[str] = field(default_factory=set)  # files of the copy to remove
    new: int = 0
    changed: int = 0
    removed: int = 0

    def revision(self) -> str:
        """A name for the copy's content: the same files give the same revision."""
        listing = sorted((seen.file, seen.digest) for seen in self.state.entries.values())
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]

    def fill(self, staging: Path, progress: Progress | None) -> None:
        for name in self.unwanted:
            (staging / name).unlink(missing_ok=True)
        for done, (name, data) in enumerate(self.writes.items(), 1):
            write_staged(staging / name, data)
            if progress:
                progress(done, len(self.writes))


def _plan(old: _State, entries: list[FeedEntry], folder: Path | None, now: datetime) -> _Plan:
    """Compare the feed's entries with the copy: write what is new or changed, expire the rest."""
    on_disk = {path.name for path in folder.iterdir()} if folder is not None else set()
    plan = _Plan(_State(url_key=old.url_key))
    for entry in entries:
        before = old.entries.get(entry.identity)
        first_seen = before.first_seen if before else now
        data = entry.render(first_seen)
        digest = hashlib.sha256(data).hexdigest()
        if before is None or before.digest != digest or entry.file_name not in on_disk:
            plan.writes[entry.file_name] = data
            if before is None:
                plan.new += 1
            else:
                plan.changed += 1
        plan.state.entries[entry.identity] = _Seen(entry.file_name, first_seen, now, digest)
    for identity, seen in old.entries.items():
        if identity in plan.state.entries or seen.file not in on_disk:
            continue
        if now - seen.last_seen > RETENTION:
            plan.removed += 1
        else:
            plan.state.entries[identity] = seen
    # Files no entry owns: expired ones, and any a crash left between a copy and its state.
    plan.unwanted = on_disk - {seen.file for seen in plan.state.entries.values()}
    return plan


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]
