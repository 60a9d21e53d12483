"""One place wires the steps: read articles -> select -> compose (-> deliver, in `runs`).

`plan` builds, for each digest and channel, the messages that would be posted now. `preview`,
`send`, the scheduler and the slash command all call it, so what you preview is what is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digestbot.articles import Entry
from digestbot.compose import Message, Topic, compose
from digestbot.config import Config, DigestConfig
from digestbot.index import ArticleIndex, Progress, Skipped
from digestbot.selection import Rule, Seen, select

log = logging.getLogger(__name__)

SeenLookup = Callable[[str], Seen]


@dataclass(frozen=True)
class ChannelPlan:
    """What one digest would post to one channel."""

    digest: DigestConfig
    channel: str
    messages: list[Message]


class Library:
    """The indexed articles of one run, with the files that failed along the way."""

    def __init__(self, index: ArticleIndex, progress: Progress | None = None) -> None:
        self._index = index
        self._entries: list[Entry] = index.refresh(progress).entries

    def skipped(self) -> list[Skipped]:
        return self._index.skipped()

    def topics(self, rule: Rule, now: datetime) -> list[Topic]:
        """The picked articles per topic. A winner read fully for the first time may fail
        (it gives way) or rank differently than its quick read said: then pick again."""
        while True:
            picks = select(self._entries, rule, now)
            lookup = self._index.articles(e.path for p in picks for e in p.entries)
            broken = {skipped.path for skipped in lookup.failed}
            wrong = {path for path, entry in lookup.fresh.items() if entry != self._by_path(path)}
            if not broken and not wrong:
                return [
                    Topic(pick.topic, tuple(lookup.found[entry.path] for entry in pick.entries))
                    for pick in picks
                ]
            self._entries = [
                lookup.fresh.get(entry.path, entry)
                for entry in self._entries
                if entry.path not in broken
            ]

    def _by_path(self, path: str) -> Entry | None:
        return next((entry for entry in self._entries if entry.path == path), None)


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
        composed: dict[Seen, list[Message]] = {}
        for channel in dict.fromkeys(channels or digest.channels):
            already = seen(channel) if seen else Seen()
            if already not in composed:
                rule = Rule(digest.topics, digest.top, digest.max_age, already)
                composed[already] = compose(digest.heading, library.topics(rule, when), when)
            plans.append(ChannelPlan(digest, channel, composed[already]))
    return plans
