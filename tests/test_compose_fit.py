"""Digests people read, within Slack's real limits: a daily digest in one message, the compact
layout, dates in each reader's timezone, one title one article, at most N per outlet, and a
message Slack refuses as too long split between its articles."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ConfigWriter, HurriedClock, copy_sony
from fakeslack import FakeSlack, validate_blocks

from digestbot.articles import read_entry
from digestbot.compose import BLOCK_TEXT_BUDGET, MAX_BLOCKS, TEXT_MAX, split, text_size
from digestbot.index import ArticleIndex
from digestbot.pipeline import Library
from digestbot.selection import Rule, title_key

DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\}\|[^>]+>")
RELATED = "↪ <"


def preview(cli, *names: str) -> list[dict]:
    result = cli("preview", "--json", *names)
    assert result.code == 0, result.err
    return json.loads(result.out)


def within_limits(message: dict) -> bool:
    validate_blocks(message["blocks"])  # Block Kit's documented limits, as the fake checks them
    return (
        len(message["blocks"]) <= MAX_BLOCKS
        and text_size(message["blocks"]) <= BLOCK_TEXT_BUDGET
        and len(message["text"]) <= TEXT_MAX
    )


def articles_of(message: dict) -> list[list[dict]]:
    """Each article's blocks, by the block_id compose gives them."""
    cards: dict[str, list[dict]] = {}
    for block in message["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith("article-"):
            cards.setdefault(block_id.split("-")[1], []).append(block)
    return list(cards.values())


@pytest.mark.corpus
def test_a_daily_digest_of_3_topics_by_5_fits_one_message_with_everything(
    corpus: Path, corpus_cache: Path, write_config: ConfigWriter, cli
) -> None:
    """Azure's AI, Security and Databases, 5 each: one message, every article with its linked
    title, excerpt, image, outlet name and logo, a date token and a related link."""
    digest = {"topics": ["AI", "Security", "Databases"], "channels": ["#x"]}
    write_config({"articles": str(corpus / "azure"), "digests": {"daily": digest}})
    [message] = preview(cli)
    assert within_limits(message) and "thread" not in message
    cards = articles_of(message)
    assert len(cards) == 15
    shown = _articles(corpus / "azure", ["AI", "Security", "Databases"], corpus_cache / "digestbot")
    for (section, byline), article in zip(cards, shown, strict=True):
        text = section["text"]["text"]
        assert text.startswith("*<https://") and "\n" in text  # linked title, then excerpt
        assert ("accessory" in section) == bool(article.image)
        elements = byline["elements"]
        assert (elements[0]["type"] == "image") == bool(article.provider_logo)  # the logo
        line = next(e["text"] for e in elements if e["type"] == "mrkdwn")
        assert line.startswith(article.provider or "") and DATE_TOKEN.search(line)
        assert (RELATED in elements[-1]["text"]) == bool(article.related)
    assert sum(1 for _, byline in cards if RELATED in byline["elements"][-1]["text"]) >= 12
    assert re.search(r"\d+ [A-Z][a-z]+ \d{4}", message["text"])  # the plain date stays


@pytest.mark.corpus
def test_the_compact_layout_fits_5_topics_by_8_in_one_message(
    corpus: Path, write_config: ConfigWriter, cli
) -> None:
    """layout: compact puts 40 articles in one message, a line each: title, outlet, date."""
    digest = {
        "topics": ["AI", "Security", "Databases", "Storage", "IoT"],
        "top": 8,
        "layout": "compact",
        "channels": ["#x"],
    }
    write_config({"articles": str(corpus / "azure"), "digests": {"daily": digest}})
    [message] = preview(cli)
    assert within_limits(message)
    lines = [
        line
        for block in message["blocks"]
        if block.get("block_id", "").startswith("article-")
        for line in block["text"]["text"].split("\n")
    ]
    assert len(lines) == 40
    assert all(line.startswith("• <https://") and DATE_TOKEN.search(line) for line in lines)
    assert '"accessory"' not in json.dumps(message["blocks"])


@pytest.mark.corpus
@pytest.mark.parametrize("feed", ["azure", "diablo4", "powerapps", "powerapps-2021"])
def test_no_message_of_any_digest_passes_the_budgets(
    corpus: Path, write_config: ConfigWriter, cli, feed: str
) -> None:
    """Topics by top up to 10 x 10, in both layouts: every message within 50 blocks, 12,000
    characters of block text and 3,000 of text; larger digests continue in the thread."""
    topics = _topics(corpus / feed)
    digests = {
        f"d{n}-{top}-{layout}": {
            "topics": topics[:n],
            "top": top,
            "layout": layout,
            "channels": ["#x"],
        }
        for n in (1, 3, 10)
        for top in (1, 5, 10)
        for layout in ("full", "compact")
    }
    write_config({"articles": str(corpus / feed), "digests": digests})
    messages = preview(cli)
    assert messages and all(within_limits(message) for message in messages)


def _articles(folder: Path, topics: list[str], cache: Path) -> list:
    """The articles a digest of these topics picks from the folder, in order."""
    with ArticleIndex(folder, cache, source="articles") as index:
        picked = Library([index]).topics(Rule(topics, 5), datetime.now(UTC))
    return [article for topic in picked for article in topic.articles]


@functools.cache
def _topics(folder: Path) -> list[str]:
    """The feed's ten most common topics."""
    counts: dict[str, int] = {}
    for path in folder.iterdir():
        for topic in re.findall(r"(?m)^  - (.+)$", path.read_text(errors="replace"))[:8]:
            counts[topic.strip().strip('"')] = counts.get(topic.strip().strip('"'), 0) + 1
    return sorted(counts, key=counts.__getitem__, reverse=True)[:10]


def test_a_digest_too_large_for_one_message_says_how_many_more_are_in_the_thread(
    write_config: ConfigWriter, articles: Path, cli
) -> None:
    """40 articles: a first message within the limits that ends with how many more articles
    there are, and replies in the thread carrying them."""
    copy_sony(articles, 40)
    write_config(
        {
            "articles": str(articles),
            "digests": {"big": {"topics": ["AI"], "top": 41, "channels": ["#x"]}},
        }
    )
    first, *replies = preview(cli)
    assert replies and all(reply["thread"] for reply in replies)
    shown = len(articles_of(first))
    more = re.search(r"➕ (\d+) more articles in the thread", json.dumps(first, ensure_ascii=False))
    assert more and int(more.group(1)) == 41 - shown
    assert sum(len(articles_of(reply)) for reply in replies) == 41 - shown
    assert all(within_limits(message) for message in [first, *replies])


def test_split_cuts_a_message_between_its_articles() -> None:
    """A message refused as too long becomes two, about half of its articles each; the
    article counts follow the blocks."""
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h"}}]
    for n in range(5):
        blocks += [
            {
                "type": "section",
                "block_id": f"article-{n}-0",
                "text": {"type": "mrkdwn", "text": f"{n}"},
            },
            {
                "type": "context",
                "block_id": f"article-{n}-1",
                "elements": [{"type": "mrkdwn", "text": "b"}],
            },
        ]
    (first, before), (second, after) = split({"text": "x" * 500, "blocks": blocks}, 5)
    assert (before, after) == (2, 3)
    assert first["blocks"][-1]["block_id"] == "article-1-1"
    assert second["blocks"][0]["block_id"] == "article-2-0"
    assert len(first["text"]) == 250


TWINS = (  # the same story, its title with a curly quote in one file, straight in the other
    (
        "2021-04-22-amdocs-to-accelerate-m1s-digital-transformation-on-microsoft-azure.md",
        "2021-04-23-amdocs-to-accelerate-m1s-digital-transformation-on-microsoft-azure.md",
    ),
    (
        "2020-08-12-commvaults-metallic-saas-data-protection-now-available-in-the-microsoft-"
        "azure-marketplace.md",
        "2020-08-22-commvaults-metallic-saas-data-protection-now-available-in-the-microsoft-"
        "azure-marketplace.md",
    ),
)


@pytest.mark.corpus
@pytest.mark.parametrize(("one", "other"), TWINS)
def test_real_curly_and_straight_twins_are_one_article(
    corpus: Path, tmp_path: Path, one: str, other: str
) -> None:
    """Two azure files of one story, titled with a curly and a straight quote: one key, and a
    digest takes one of them."""
    folder = tmp_path / "twins"
    folder.mkdir()
    for name in (one, other):  # published, whatever the feed later decided
        text = (corpus / "azure" / name).read_text(encoding="utf-8")
        text = text.replace("heat: -1", "heat: 90").replace("published: false", "published: true")
        (folder / name).write_text(text, encoding="utf-8")
    first, second = (read_entry(folder / name, name) for name in (one, other))
    assert first.title != second.title and title_key(first.title) == title_key(second.title)
    with ArticleIndex(folder, tmp_path / "cache", source="azure") as index:
        [topic] = Library([index]).topics(Rule(["Azure"], 5), datetime(2021, 9, 1, tzinfo=UTC))
    assert len(topic.articles) == 1


def test_title_keys_fold_quotes_dashes_and_invisible_spaces() -> None:
    """Curly and straight quotes, dashes, zero-width and non-breaking spaces and compatibility
    forms fold away; case and runs of spaces too."""
    assert title_key("Long—dash and “quotes” ﬁne") == title_key('long-dash  and "quotes" fine')
    assert title_key("Sony’s\u00a0first\u200b AI") == title_key("SONY'S FIRST AI")


@pytest.mark.corpus
def test_at_most_n_articles_of_one_outlet_per_topic(corpus: Path, corpus_cache: Path) -> None:
    """max_per_provider: 2 holds on every azure topic; the next hottest of another outlet
    takes each place."""
    with ArticleIndex(corpus / "azure", corpus_cache / "digestbot", source="azure") as index:
        library = Library([index])
        now = datetime(2021, 9, 1, tzinfo=UTC)
        topics = _topics(corpus / "azure")
        for topic in topics:
            [capped] = library.topics(Rule([topic], 5, max_per_provider=2), now) or [None]
            if capped is None:
                continue
            outlets = [article.provider for article in capped.articles]
            assert all(outlets.count(outlet) <= 2 for outlet in outlets if outlet), (topic, outlets)
            [ranked] = library.topics(Rule([topic], 50), now)
            assert [a.key for a in capped.articles] == _capped(ranked.articles, 2, 5), topic


def _capped(ranked: tuple, cap: int, top: int) -> list[str]:
    """The hottest articles, skipping an outlet once it has `cap` of them."""
    kept: list[str] = []
    counts: dict[str, int] = {}
    for article in ranked:
        outlet = (article.provider or "").casefold()
        if outlet and counts.get(outlet, 0) >= cap:
            continue
        counts[outlet] = counts.get(outlet, 0) + 1
        kept.append(article.key)
    return kept[:top]


def test_a_message_slack_refuses_as_too_long_is_split_and_delivered_once(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, cli, hurried: HurriedClock
) -> None:
    """When Slack answers msg_blocks_too_long, the message is split between its articles and
    every part lands once, in the thread; nothing is posted twice on the next send."""
    copy_sony(articles, 6)
    slack.block_text_limit = 2500  # a Slack stricter than compose's budget
    write_config(
        {
            "articles": str(articles),
            "digests": {"ai": {"topics": ["AI"], "top": 10, "channels": ["#ai-news"]}},
        }
    )
    result = cli("send")
    assert result.code == 0, result.out + result.err
    first, *replies = slack.messages_in("ai-news")
    assert replies and all(reply["thread_ts"] == first["ts"] for reply in replies)
    posted = [
        title
        for message in [first, *replies]
        for title in re.findall(
            r"\*<[^|]+\|([^>]+)>\*", json.dumps(message["blocks"], ensure_ascii=False)
        )
    ]
    assert len(posted) == len(set(posted)) == 7
    assert hurried.waited >= len(replies) - 1  # the parts keep the channel's pace
    assert cli("send").out.strip() == "ai → #ai-news: nothing new"
