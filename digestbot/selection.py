"""Step 2: pick the hottest articles for each topic of a digest. Pure: no clock, files or network.

The rule: an article is a candidate for a topic when it is published, not removed, has a numeric
heat and an http(s) address, carries the topic (case-insensitive) and, with max_age, was
published within that long before the run. Candidates rank by heat, then quality, then
publication time (newest first). An address or a title is used once per digest, at its hottest,
under the first topic that takes it; a channel's already-delivered articles are left out first.
With max_per_provider, a topic takes at most that many articles of one outlet.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ledger uses this module: it need not import pydantic and YAML
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
    max_per_provider: int | None = None


# What real feeds swap between twins of one title: curly and straight quotes, dashes, and
# invisible or non-breaking spaces (NFKC turns the non-breaking ones into spaces).
_FOLDS = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4\u0060", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad"),
    }
)


def title_key(title: str) -> str:
    """A title as duplicates share it: Unicode compatibility forms, quotes and dashes folded,
    invisible characters dropped, case-folded, whitespace squeezed."""
    folded = unicodedata.normalize("NFKC", title).translate(_FOLDS).casefold()
    return " ".join(folded.split())


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
        taken: list[Entry] = []
        per_provider: dict[str, int] = {}
        for entry in pool:
            if len(taken) == rule.top:
                break
            if entry.key in used or folded not in _folded(entry):
                continue
            outlet = (entry.provider or "").casefold()
            if outlet and rule.max_per_provider is not None:
                if per_provider.get(outlet, 0) >= rule.max_per_provider:
                    continue  # the next hottest article of another outlet takes the place
                per_provider[outlet] = per_provider.get(outlet, 0) + 1
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
