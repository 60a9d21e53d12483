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
    """Heat ranks first, then quality, then publication time, newest first: the winner here
    loses every later tie-break (its path sorts last), so each rule is what decides."""
    for entries in (
        [entry("a", **second), entry("b", **first)],
        [entry("b", **first), entry("a", **second)],
    ):
        assert picked(entries) == {"AI": ["b", "a"]}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"heat": 120, "quality": 1}, {"heat": 110, "quality": 99}),
        ({"heat": 120, "published_at": NOW - timedelta(days=3)}, {"heat": 110}),
        ({"quality": 90, "published_at": NOW - timedelta(days=3)}, {"quality": 80}),
    ],
)
def test_an_earlier_ranking_rule_outweighs_the_later_ones(first: dict, second: dict) -> None:
    """Heat outweighs quality and age, quality outweighs age: a later rule only breaks ties."""
    entries = [entry("a", **second), entry("b", **first)]
    assert picked(entries) == {"AI": ["b", "a"]}


def test_articles_equal_on_every_rule_rank_by_source_and_path() -> None:
    """Ties on heat, quality and time go to the article key (source/path), so a digest picks
    the same articles whatever order the files were read in."""
    keys = ["ai/c.md", "ai/a.md", "blog/a.md", "ai/b.md"]
    entries = [
        entry(key.split("/")[1], source=key.split("/")[0], title=key, url=f"https://x/{key}")
        for key in keys
    ]
    expected = ["ai/a.md", "ai/b.md", "ai/c.md", "blog/a.md"]
    for ordering in (entries, entries[::-1]):
        [pick] = select(ordering, Rule(["AI"], 5), NOW)
        assert [e.key for e in pick.entries] == expected
        [top] = select(ordering, Rule(["AI"], 1), NOW)
        assert [e.key for e in top.entries] == ["ai/a.md"]


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


def test_max_age_includes_both_ends_of_the_window() -> None:
    """An article published exactly max_age before the run, or exactly at it, is a candidate."""
    entries = [
        entry("edge", published_at=NOW - timedelta(days=2)),
        entry("now", published_at=NOW),
        entry("late", published_at=NOW - timedelta(days=2, microseconds=1)),
    ]
    rule = Rule(["AI"], 5, max_age=timedelta(days=2))
    assert sorted(picked(entries, rule)["AI"]) == ["edge", "now"]


def test_a_cold_article_ranks_below_a_lukewarm_one() -> None:
    """Heat 0 is a real heat, the lowest one: below 0.5, above a negative heat."""
    entries = [entry("zero", heat=0), entry("half", heat=0.5), entry("minus", heat=-1)]
    assert picked(entries) == {"AI": ["half", "zero", "minus"]}


def test_a_duplicate_gives_way_to_the_next_article() -> None:
    """Skipping a duplicate carries on down the ranking: the articles after it still count."""
    entries = [
        entry("first", url="https://x/1", heat=120),
        entry("copy", url="https://x/1", heat=110),
        entry("retitled", title="first", heat=105),
        entry("next", heat=100),
    ]
    assert picked(entries) == {"AI": ["first", "next"]}


def test_max_per_provider_lets_the_next_outlet_take_the_place() -> None:
    """With max_per_provider a topic takes at most that many articles of one outlet (its name
    in any case); the next hottest of another outlet, or of none, takes the place."""
    entries = [
        entry("v1", heat=130, provider="The Verge"),
        entry("v2", heat=120, provider="the verge"),
        entry("v3", heat=115, provider="THE VERGE"),
        entry("w1", heat=110, provider="Wired"),
        entry("w2", heat=105, provider="Wired"),
        entry("n1", heat=100, provider=None),
        entry("n2", heat=90, provider=None),
    ]
    assert picked(entries, Rule(["AI"], 5, max_per_provider=1)) == {"AI": ["v1", "w1", "n1", "n2"]}
    assert picked(entries, Rule(["AI"], 4, max_per_provider=2)) == {"AI": ["v1", "v2", "w1", "w2"]}
    assert picked(entries, Rule(["AI"], 3)) == {"AI": ["v1", "v2", "v3"]}


def test_max_per_provider_counts_each_topic_on_its_own() -> None:
    """The cap is per topic: a second topic may take the outlet's next articles."""
    entries = [
        entry("a", heat=130, provider="Wired", topics=("AI", "Cloud")),
        entry("b", heat=120, provider="Wired", topics=("AI", "Cloud")),
        entry("c", heat=110, provider="Wired", topics=("Cloud",)),
    ]
    rule = Rule(["AI", "Cloud"], 5, max_per_provider=1)
    assert picked(entries, rule) == {"AI": ["a"], "Cloud": ["b"]}
