"""Step 2: pick the hottest articles for each topic of a digest. Pure: no clock, files or network.

The rule: an article is a candidate for a topic when it is published, not removed, has a numeric
heat and an http(s) address, carries the topic (case-insensitive) and, with max_age, was
published within that long before the run. Candidates rank by heat, then quality, then
publication time (newest first). An address or a title is used once per digest, at its hottest,
under the first topic that takes it; a channel's already-delivered articles are left out first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digestbot.articles import Entry


@dataclass(frozen=True)
class Seen:
    """Articles a channel already had: by address, by title key, and by article key (source
    and file path, or feed entry), which holds across edits of the other two."""

    urls: frozenset[str] = frozenset()
    titles: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TopicPick:
    topic: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Rule:
    """What a digest asks of the selection."""

    topics: Sequence[str]
    top: int
    max_age: timedelta | None = None
    seen: Seen = field(default_factory=Seen)


def title_key(title: str) -> str:
    """A title as duplicates share it: case-folded, whitespace squeezed."""
    return " ".join(title.casefold().split())


def decayed_heat(published_at: datetime, now: datetime, weight: float, half_life: timedelta) -> int:
    """A feed entry's heat: 100 when fresh, halving every `half_life`, scaled by `weight`
    (a fresh entry ranks like a Smartable article just past its publishing threshold, 70)."""
    age = max(timedelta(0), now - published_at)
    return round(100 * weight * 0.5 ** (age / half_life))


def select(entries: Iterable[Entry], rule: Rule, now: datetime) -> list[TopicPick]:
    """The top articles per topic, in the digest's topic order; topics with none are left out."""
    wanted = {topic.casefold() for topic in rule.topics}
    oldest = now - rule.max_age if rule.max_age is not None else None
    candidates = [
        entry
        for entry in entries
        if _eligible(entry, wanted, rule.seen) and _recent(entry, oldest, now)
    ]
    pool = _unique(sorted(candidates, key=_rank))
    picks, used = [], set()
    for topic in dict.fromkeys(rule.topics):
        folded = topic.casefold()
        taken = []
        for entry in pool:
            if len(taken) == rule.top:
                break
            if entry.key not in used and folded in _folded(entry):
                taken.append(entry)
                used.add(entry.key)
        if taken:
            picks.append(TopicPick(topic, tuple(taken)))
    return picks


def _eligible(entry: Entry, wanted: set[str], seen: Seen) -> bool:
    return (
        entry.published
        and not entry.removed
        and isinstance(entry.heat, int | float)
        and not math.isnan(entry.heat)
        and entry.url is not None
        and not wanted.isdisjoint(_folded(entry))
        and entry.url not in seen.urls
        and title_key(entry.title) not in seen.titles
        and entry.key not in seen.keys
    )


def _recent(entry: Entry, oldest: datetime | None, now: datetime) -> bool:
    if oldest is None:
        return True
    return entry.published_at is not None and oldest <= entry.published_at <= now


def _folded(entry: Entry) -> set[str]:
    return {topic.casefold() for topic in entry.topics}


def _rank(entry: Entry) -> tuple[float, float, float, str]:
    quality = entry.quality if entry.quality is not None else -math.inf
    published = entry.published_at.timestamp() if entry.published_at else -math.inf
    return (-(entry.heat or 0.0), -quality, -published, entry.key)


def _unique(ranked: list[Entry]) -> list[Entry]:
    urls: set[str] = set()
    titles: set[str] = set()
    unique = []
    for entry in ranked:
        key = title_key(entry.title)
        if entry.url in urls or key in titles:
            continue
        urls.add(entry.url or "")
        titles.add(key)
        unique.append(entry)
    return unique
