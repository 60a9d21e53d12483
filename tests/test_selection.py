"""The selection rule: eligibility, ranking, one use per address or title, topic order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digestbot.articles import Entry
from digestbot.selection import Rule, Seen, decayed_heat, select, title_key

NOW = datetime(2020, 5, 15, 9, 0, tzinfo=UTC)


def entry(path: str, **fields: object) -> Entry:
    values: dict[str, object] = {
        "path": path,
        "title": path,
        "url": f"https://example.com/{path}",
        "heat": 100,
        "quality": 50,
        "published_at": NOW - timedelta(hours=1),
        "published": True,
        "removed": False,
        "topics": ("AI",),
    }
    values.update(fields)
    return Entry(**values)  # type: ignore[arg-type]


def picked(entries: list[Entry], rule: Rule | None = None) -> dict[str, list[str]]:
    rule = rule or Rule(["AI"], 5)
    return {pick.topic: [e.path for e in pick.entries] for pick in select(entries, rule, NOW)}


@pytest.mark.parametrize(
    ("changes", "eligible"),
    [
        ({}, True),
        ({"published": False}, False),
        ({"removed": True}, False),
        ({"heat": None}, False),
        ({"heat": float("nan")}, False),
        ({"url": None}, False),
        ({"topics": ("Cloud",)}, False),
        ({"topics": ("ai",)}, True),
    ],
)
def test_eligibility(changes: dict, eligible: bool) -> None:
    """Published, not removed, numeric heat, a web address and the topic are all required."""
    assert picked([entry("a", **changes)]) == ({"AI": ["a"]} if eligible else {})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"heat": 120}, {"heat": 110}),
        ({"quality": 90}, {"quality": 80}),
        ({"quality": 1}, {"quality": None}),
        ({"published_at": NOW - timedelta(hours=1)}, {"published_at": NOW - timedelta(hours=2)}),
        ({"published_at": NOW}, {"published_at": None}),
    ],
)
def test_ranking_heat_then_quality_then_newest(first: dict, second: dict) -> None:
    """Heat ranks first, then quality, then publication time, newest first."""
    entries = [entry("b", **second), entry("a", **first)]
    assert picked(entries) == {"AI": ["a", "b"]}


def test_top_limits_each_topic() -> None:
    """Each topic gets at most `top` articles, the hottest ones."""
    entries = [entry(f"a{heat}", heat=heat) for heat in range(100, 110)]
    assert picked(entries, Rule(["AI"], 3)) == {"AI": ["a109", "a108", "a107"]}


def test_duplicates_by_address_or_title_are_used_once_at_their_hottest() -> None:
    """The same address or title (case and spacing aside) appears once, the hottest copy."""
    entries = [
        entry("cold", url="https://x/1", heat=90, topics=("AI",)),
        entry("hot", url="https://x/1", heat=120, topics=("Cloud",)),
        entry("t1", title="Big  News", heat=110),
        entry("t2", title="big news", heat=100),
    ]
    rule = Rule(["AI", "Cloud"], 5)
    assert picked(entries, rule) == {"AI": ["t1"], "Cloud": ["hot"]}


def test_first_topic_takes_an_article_and_empty_topics_are_left_out() -> None:
    """An article carrying two topics is shown under the first; a topic left empty disappears."""
    entries = [entry("both", topics=("AI", "Cloud"))]
    assert picked(entries, Rule(["Cloud", "AI"], 5)) == {"Cloud": ["both"]}


def test_max_age_counts_back_from_the_run_time() -> None:
    """With max_age only articles published within it before the run are candidates."""
    entries = [
        entry("new", published_at=NOW - timedelta(hours=47)),
        entry("old", published_at=NOW - timedelta(hours=49)),
        entry("future", published_at=NOW + timedelta(hours=1)),
        entry("undated", published_at=None),
    ]
    rule = Rule(["AI"], 5, max_age=timedelta(days=2))
    assert picked(entries, rule) == {"AI": ["new"]}
    assert set(picked(entries)["AI"]) == {"new", "old", "future", "undated"}


def test_seen_articles_are_left_out_before_ranking() -> None:
    """Articles a channel already had give way to the next hottest."""
    entries = [entry("a", heat=120), entry("b", heat=110, title="B title"), entry("c", heat=100)]
    seen = Seen(urls=frozenset({"https://example.com/a"}), titles=frozenset({"b title"}))
    assert picked(entries, Rule(["AI"], 1, seen=seen)) == {"AI": ["c"]}


def test_title_key() -> None:
    """Title keys fold case and squeeze whitespace."""
    assert title_key("  Hello \t WORLD ") == "hello world"


@pytest.mark.parametrize(
    ("age", "weight", "heat"),
    [
        (timedelta(0), 1.0, 100),
        (timedelta(days=1), 1.0, 50),
        (timedelta(days=2), 1.0, 25),
        (timedelta(hours=12), 1.0, 71),
        (timedelta(days=1), 2.0, 100),
        (-timedelta(hours=3), 1.0, 100),  # published "in the future": fresh, not hotter
    ],
)
def test_a_feed_entry_heat_halves_every_half_life(age: timedelta, weight: float, heat: int) -> None:
    """round(100 * weight * 0.5 ** (age / half_life)): a fresh entry scores 100."""
    assert decayed_heat(NOW - age, NOW, weight, timedelta(days=1)) == heat


def test_an_article_the_channel_had_is_left_out_by_its_key() -> None:
    """An article the channel had under another address and title is still left out."""
    moved = entry("a.md", url="https://new.example/a", title="A New Title", source="ai")
    seen = Seen(keys=frozenset({"ai/a.md"}))
    assert select([moved], Rule(["AI"], 5, seen=seen), NOW) == []
    assert select([moved], Rule(["AI"], 5), NOW) != []
