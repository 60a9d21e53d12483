"""One place wires the steps: read articles -> select -> compose (-> deliver, in `sender`).

`plan` builds, for each digest and channel, the messages that would be posted now. `preview`,
`send`, the scheduler and the slash command all call it, so what you preview is what is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from digestbot.articles import Article, Entry
from digestbot.compose import Message, Topic, compose
from digestbot.config import Config, DigestConfig
from digestbot.index import ArticleIndex, Lookup, Progress, Skipped
from digestbot.selection import Rule, Seen, decayed_heat, select

if TYPE_CHECKING:
    from digestbot.sources.registry import Refreshed

log = logging.getLogger(__name__)

SeenLookup = Callable[[str], Seen]
ArticleKey = tuple[str, str]  # (source, path)


@dataclass(frozen=True)
class ChannelPlan:
    """What one digest would post to one channel."""

    digest: DigestConfig
    channel: str
    messages: list[Message]


@dataclass(frozen=True)
class Decay:
    """How a feed's entries lose heat with age (they carry no heat of their own)."""

    weight: float
    half_life: timedelta


class Library:
    """The indexed articles of one run, from each of its sources, with the files that failed."""

    def __init__(
        self,
        indexes: Sequence[ArticleIndex],
        progress: Progress | None = None,
        decays: Mapping[str, Decay] | None = None,
    ) -> None:
        self._indexes = {index.source: index for index in indexes}
        self._decays = decays or {}
        # Sources whose refresh failed before this run (it reads their last good copies).
        self.failed_sources: list[Refreshed] = []
        self._entries: dict[ArticleKey, Entry] = {
            (entry.source, entry.path): entry
            for index in indexes
            for entry in index.refresh(progress).entries
        }

    def skipped(self) -> list[Skipped]:
        return [item for index in self._indexes.values() for item in index.skipped()]

    def topics(
        self, rule: Rule, now: datetime, sources: Collection[str] | None = None
    ) -> list[Topic]:
        """The picked articles per topic, from `sources` (default: all). A winner read fully
        for the first time may fail (it gives way) or rank differently than its quick read
        said: then pick again."""
        while True:
            candidates = [
                self._scored(entry, now)
                for entry in self._entries.values()
                if sources is None or entry.source in sources
            ]
            picks = select(candidates, rule, now)
            lookup = self._look_up([(e.source, e.path) for p in picks for e in p.entries])
            broken = {(s.source, s.path) for s in lookup.failed}
            wrong = {key for key, entry in lookup.fresh.items() if entry != self._entries.get(key)}
            if not broken and not wrong:
                return [
                    Topic(pick.topic, tuple(lookup.found[(e.source, e.path)] for e in pick.entries))
                    for pick in picks
                ]
            for key in broken:
                self._entries.pop(key, None)
            self._entries.update({key: lookup.fresh[key] for key in wrong})

    def _scored(self, entry: Entry, now: datetime) -> Entry:
        decay = self._decays.get(entry.source)
        if decay is None or entry.published_at is None:
            return entry
        heat = decayed_heat(entry.published_at, now, decay.weight, decay.half_life)
        return replace(entry, heat=heat)

    def _look_up(self, keys: list[ArticleKey]) -> _Looked:
        looked = _Looked()
        for source, index in self._indexes.items():
            paths = [path for key_source, path in keys if key_source == source]
            if paths:
                looked.add(source, index.articles(paths))
        return looked


@dataclass
class _Looked:
    """Articles looked up across sources, keyed by (source, path)."""

    found: dict[ArticleKey, Article] = field(default_factory=dict)
    failed: list[Skipped] = field(default_factory=list)
    fresh: dict[ArticleKey, Entry] = field(default_factory=dict)

    def add(self, source: str, lookup: Lookup) -> None:
        self.found.update({(source, path): article for path, article in lookup.found.items()})
        self.failed += lookup.failed
        self.fresh.update({(source, path): entry for path, entry in lookup.fresh.items()})


def plan(
    config: Config,
    library: Library,
    digests: Sequence[DigestConfig],
    now: datetime,
    *,
    channels: Sequence[str] = (),
    seen: SeenLookup | None = None,
) -> list[ChannelPlan]:
    """The messages each digest would post to each of its channels (or to `channels`)."""
    plans = []
    for digest in digests:
        when = now.astimezone(config.digest_timezone(digest))
        sources = config.digest_sources(digest)
        composed: dict[Seen, list[Message]] = {}
        for channel in dict.fromkeys(channels or digest.channels):
            already = seen(channel) if seen else Seen()
            if already not in composed:
                rule = Rule(
                    digest.topics, digest.top, digest.max_age, already, digest.max_per_provider
                )
                topics = library.topics(rule, when, sources)
                composed[already] = compose(digest.heading, topics, when, layout=digest.layout)
            plans.append(ChannelPlan(digest, channel, composed[already]))
    return plans
